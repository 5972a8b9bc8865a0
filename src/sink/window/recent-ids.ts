/**
 * A set of connection ids that forgets the oldest once it holds `capacity`: for facts about
 * connections that matter only for a while after they happened, kept in bounded memory
 * however many connections come and go.
 */
export class RecentIds {
  private readonly ids = new Set<number>();

  constructor(private readonly capacity: number) {}

  add(id: number): void {
    this.ids.delete(id);
    this.ids.add(id);
    if (this.ids.size > this.capacity) {
      const [oldest] = this.ids;
      this.ids.delete(oldest!);
    }
  }

  has(id: number): boolean {
    return this.ids.has(id);
  }
}
