// A Store that persists nothing: it keeps in memory only what build() reads back (attempt ids, stamps, output
// hashes, the hash cache) and drops every byte of content. Bench-only: it is the "persistence switched off"
// side of bench/persistence.js, so that the engine itself needs no such switch.

export class MemoryStore {
  location = 'memory (persistence switched off)';
  #runs = new Map();
  #attempts = new Map();
  #fileStats = new Map();
  #nextAttemptId = 1;

  async createRun({ runDir, pipeline, params }) {
    const now = Date.now();
    const run = { id: `mem-${this.#runs.size + 1}`, runDir, pipeline, params, status: 'created', statusReason: null, createdAt: now, updatedAt: now };
    this.#runs.set(run.id, run);
    return { ...run };
  }

  async getRun(runId) {
    const run = this.#runs.get(runId);
    return run ? { ...run } : null;
  }

  async findRunByDir(runDir) {
    return [...this.#runs.values()].reverse().find((run) => run.runDir === runDir) ?? null;
  }

  async updateRun(runId, changes) {
    const run = this.#runs.get(runId);
    if (!run) throw new Error(`no run with id ${runId}`);
    Object.assign(run, Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)), { updatedAt: Date.now() });
  }

  async listRuns() {
    return [...this.#runs.values()];
  }

  async loadRunSnapshot(runId) {
    const built = new Map();
    for (const attempt of this.#attempts.values()) {
      if (attempt.runId === runId && (attempt.status === 'persisted' || attempt.status === 'complete')) built.set(attempt.taskId, { ...attempt });
    }
    const latestContent = new Map();
    for (const attempt of built.values()) for (const [file, sha] of Object.entries(attempt.outputs ?? {})) latestContent.set(file, sha);
    return {
      built,
      unmaterialized: [...built.values()].filter((a) => a.status === 'persisted'),
      replayable: new Map(),
      latestContent,
      fileStats: new Map(this.#fileStats.get(runId) ?? []),
    };
  }

  async abandonRunningAttempts(runId) {
    let count = 0;
    for (const attempt of this.#attempts.values()) {
      if (attempt.runId === runId && attempt.status === 'running') {
        attempt.status = 'abandoned';
        count++;
      }
    }
    return count;
  }

  async startAttempt(runId, taskId) {
    const id = this.#nextAttemptId++;
    this.#attempts.set(id, {
      id,
      runId,
      taskId,
      status: 'running',
      stamp: null,
      outputs: null,
      error: null,
      startedAt: Date.now(),
      finishedAt: null,
    });
    return id;
  }

  async persistAttempt(attemptId, stamp, outputs) {
    const attempt = this.#attempts.get(attemptId);
    attempt.status = 'persisted';
    attempt.stamp = stamp;
    attempt.outputs = Object.fromEntries(outputs.map((o) => [o.path, o.sha256]));
  }

  async completeAttempt(attemptId, stats) {
    const attempt = this.#attempts.get(attemptId);
    attempt.status = 'complete';
    attempt.finishedAt = Date.now();
    await this.saveFileStats(attempt.runId, stats);
  }

  async endAttempt(attemptId, status, error) {
    const attempt = this.#attempts.get(attemptId);
    if (attempt.status !== 'running') return;
    Object.assign(attempt, { status, error, finishedAt: Date.now() });
  }

  async listAttempts(runId, taskId) {
    return [...this.#attempts.values()].filter((a) => a.runId === runId && (taskId === undefined || a.taskId === taskId)).map((a) => ({ ...a }));
  }

  async recordEdit() {}

  async readContent() {
    return null;
  }

  async readContentBySha() {
    return null;
  }

  async listContentVersions() {
    return [];
  }

  async saveFileStats(runId, stats) {
    if (!this.#fileStats.has(runId)) this.#fileStats.set(runId, new Map());
    const map = this.#fileStats.get(runId);
    for (const stat of stats) map.set(stat.path, stat);
  }

  async startInteraction() {
    throw new Error('the memory store records no model calls');
  }

  async finishInteraction() {}

  async findReplayableInteractions() {
    return [];
  }

  async listInteractions() {
    return [];
  }

  async close() {}
}
