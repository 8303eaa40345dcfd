// Persistent client state in IndexedDB: the DPoP key pair and the refresh
// token bound to it. IndexedDB stores CryptoKey objects by structured clone,
// so a non-extractable key survives reloads without ever being exportable.

const STORE = "session";

/**
 * SessionStore is a tiny key-value wrapper over one IndexedDB object store.
 * Where IndexedDB is unavailable it keeps values in memory, so the client
 * still works but a reload signs the user out.
 */
export class SessionStore {
  constructor(dbName) {
    this.dbName = dbName;
    this.db = null;
    this.memory = null;
  }

  async #open() {
    if (this.memory) return null;
    if (!this.db) {
      this.db = new Promise((resolve, reject) => {
        let request;
        try {
          request = indexedDB.open(this.dbName, 1);
        } catch (err) {
          reject(err);
          return;
        }
        request.onupgradeneeded = () => request.result.createObjectStore(STORE);
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
        request.onblocked = () => reject(new Error("IndexedDB upgrade blocked"));
      });
    }
    try {
      return await this.db;
    } catch {
      this.memory = new Map();
      return null;
    }
  }

  async #run(mode, operation) {
    const db = await this.#open();
    if (!db) {
      const memoryResult = operation(null);
      return memoryResult ? memoryResult.result : undefined;
    }
    return new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = operation(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request ? request.result : undefined);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }

  /** get returns the value stored under key, or undefined. */
  get(key) {
    return this.#run("readonly", (store) => (store ? store.get(key) : { result: this.memory.get(key) }));
  }

  /** put stores value under key. */
  put(key, value) {
    return this.#run("readwrite", (store) => (store ? store.put(value, key) : void this.memory.set(key, value)));
  }

  /** delete removes the given keys. */
  delete(...keys) {
    return this.#run("readwrite", (store) => {
      for (const key of keys) {
        if (store) store.delete(key);
        else this.memory.delete(key);
      }
      return undefined;
    });
  }
}
