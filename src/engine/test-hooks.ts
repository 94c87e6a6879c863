/**
 * Crash points for the crash tests: `PLAN_TEST_HOOK=kill-after-persist:<task id or class name>` makes the
 * process kill itself with SIGKILL right after that task's attempt is persisted and before its files are
 * written; `kill-after-materialize:<task>` right after its files are written and before the attempt is marked
 * complete — moments a test cannot hit from outside. Unset in normal use: one string comparison.
 */
const hook = process.env.PLAN_TEST_HOOK ?? '';

export function testHook(point: 'after-persist' | 'after-materialize', taskId: string): void {
  if (hook === '') return;
  const [wanted, target] = hook.split(/:(.*)/s);
  if (wanted !== `kill-${point}`) return;
  if (target === taskId || target === taskId.split('(')[0]) process.kill(process.pid, 'SIGKILL');
}
