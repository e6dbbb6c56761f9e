/** A tiny typed event emitter: listeners get one context object; `on` returns its own `off`. Used by composition. */
export class Emitter<Events extends Record<string, unknown>> {
  readonly #listeners = new Map<keyof Events, Set<(context: never) => void>>();

  on<K extends keyof Events>(event: K, listener: (context: Events[K]) => void): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener as (context: never) => void);
    return () => void set.delete(listener as (context: never) => void);
  }

  emit<K extends keyof Events>(event: K, context: Events[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (context: Events[K]) => void)(context);
      } catch (error) {
        // One faulty listener must not stop delivery to the others, nor break the connection.
        setTimeout(() => {
          throw error;
        });
      }
    }
  }

  clear(): void {
    this.#listeners.clear();
  }
}
