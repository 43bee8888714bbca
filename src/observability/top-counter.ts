// The most pulled images, counted in memory with a bounded table: when it is full, a new name replaces
// the least counted one and inherits its count (the "space-saving" scheme), so frequent names are never
// lost to a flood of one-off ones while memory stays fixed.

export interface TopEntry {
  name: string;
  count: number;
}

export class TopCounter {
  private readonly capacity: number;
  private readonly counts = new Map<string, number>();

  constructor(capacity = 200) {
    this.capacity = capacity;
  }

  add(name: string): void {
    const current = this.counts.get(name);
    if (current !== undefined) {
      this.counts.set(name, current + 1);
      return;
    }
    if (this.counts.size < this.capacity) {
      this.counts.set(name, 1);
      return;
    }
    let smallest: string | undefined;
    let smallestCount = Infinity;
    for (const [key, count] of this.counts) {
      if (count < smallestCount) {
        smallest = key;
        smallestCount = count;
      }
    }
    if (smallest !== undefined) this.counts.delete(smallest);
    this.counts.set(name, smallestCount + 1);
  }

  top(n: number): TopEntry[] {
    return [...this.counts]
      .map(([name, count]) => ({ name, count }))
      .sort((a, b) => b.count - a.count || a.name.localeCompare(b.name))
      .slice(0, n);
  }
}
