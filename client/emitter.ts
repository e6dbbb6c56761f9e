type Listener = (context: never) => void;

/**
 * Listener lists are arrays that are replaced, never changed, when a listener comes or goes:
 * a delivery iterates what it finds without copying, and a listener added or removed during
 * one takes effect from the next. As a set: the same function added twice is one listener.
 */
export function withListener<L>(list: readonly L[], listener: L): readonly L[] {
  return list.includes(listener) ? list : [...list, listener];
}

export function withoutListener<L>(list: readonly L[], listener: L): readonly L[] {
  return list.filter((l) => l !== listener);
}

/** Calls each listener with `context`; one that throws does not stop the others. */
export function callEach<C>(listeners: readonly ((context: C) => void)[], context: C): void {
  for (let i = 0; i < listeners.length; i++) {
    try {
      listeners[i]!(context);
    } catch (error) {
      // One faulty listener must not stop delivery to the others, nor break the connection:
      // its error is thrown on a task of its own, where the page's error handlers see it.
      setTimeout(() => {
        throw error;
      });
    }
  }
}

/** A tiny typed event emitter: listeners get one context object; `on` returns its own `off`. Used by composition. */
export class Emitter<Events extends Record<string, unknown>> {
  readonly #listeners = new Map<keyof Events, readonly Listener[]>();

  on<K extends keyof Events>(event: K, listener: (context: Events[K]) => void): () => void {
    const entry = listener as Listener;
    this.#listeners.set(event, withListener(this.#listeners.get(event) ?? [], entry));
    return () => {
      const rest = withoutListener(this.#listeners.get(event) ?? [], entry);
      if (rest.length) this.#listeners.set(event, rest);
      else this.#listeners.delete(event);
    };
  }

  emit<K extends keyof Events>(event: K, context: Events[K]): void {
    const listeners = this.#listeners.get(event) as readonly ((context: Events[K]) => void)[] | undefined;
    if (listeners) callEach(listeners, context);
  }

  clear(): void {
    this.#listeners.clear();
  }
}
