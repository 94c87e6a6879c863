/**
 * The answer entry for the item with this id: by id, else the entry at the item's position (models often
 * mangle ids), else undefined. Lets tasks merge per-item answers without trusting the model's ids.
 */
export function answerFor<A extends { id?: string }>(answers: readonly A[], id: string, index: number): A | undefined {
  return answers.find((a) => a.id === id) ?? answers[index];
}
