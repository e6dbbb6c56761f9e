type Listener = (context: never) => void;

/** A tiny typed event emitter: listeners get one context object; `on` returns its own `off`. Used by composition. */
export class Emitter<Events extends Record<string, unknown>> {
  /**
   * Each event's listeners as an array that is replaced, never changed, when a listener comes
   * or goes: `emit` runs on every received event and iterates what it finds without copying,
   * and a listener added or removed during an emit takes effect from the next one.
   */
  readonly #listeners = new Map<keyof Events, readonly Listener[]>();

  on<K extends keyof Events>(event: K, listener: (context: Events[K]) => void): () => void {
    const entry = listener as Listener;
    const current = this.#listeners.get(event) ?? [];
    // As a set: the same function added twice is one listener.
    if (!current.includes(entry)) this.#listeners.set(event, [...current, entry]);
    return () => {
      const rest = (this.#listeners.get(event) ?? []).filter((l) => l !== entry);
      if (rest.length) this.#listeners.set(event, rest);
      else this.#listeners.delete(event);
    };
  }

  emit<K extends keyof Events>(event: K, context: Events[K]): void {
    const listeners = this.#listeners.get(event);
    if (!listeners) return;
    for (let i = 0; i < listeners.length; i++) {
      try {
        (listeners[i] as (context: Events[K]) => void)(context);
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
