// A saved login written into the login page itself, before the site's own scripts
// run (app/engine/browser/storage_restore.py says why and when this is used).
//
// Evaluated as an init script of one page: `(this function)(origin, state, mark)`,
// where `state` is one origin's part of a Playwright storage state (`localStorage`
// and `indexedDB`, values in Playwright's documented serialisation). It runs in
// every new document of that page, so it acts only on `origin` and only once per
// tab: `sessionStorage[mark]` survives reloads of the tab and is then "ok" or
// the error the restore met.
//
// Ordering: localStorage is written synchronously. Each database is opened with
// its saved version here, at document start, and filled inside that open's
// upgrade transaction. IndexedDB runs open requests for one database in the order
// they were made, so the site's own `indexedDB.open` of that database completes
// only after every record is in.
(function restoreSavedLogin(origin, state, mark) {
  'use strict';
  if (location.origin !== origin) return;
  try {
    if (sessionStorage.getItem(mark) !== null) return; // restored once in this tab
    sessionStorage.setItem(mark, 'pending');
  } catch (err) {
    return; // no session storage: nothing can say whether it ran before
  }
  const failed = (what, err) => {
    const text = `${what}: ${err && err.name ? `${err.name}: ${err.message}` : String(err)}`;
    try {
      // The first error is the cause (an aborted upgrade then reports AbortError too).
      if (sessionStorage.getItem(mark) === 'pending') sessionStorage.setItem(mark, `error: ${text}`);
    } catch (ignored) {
      // the mark stays "pending": still not "ok"
    }
  };

  const bytes = (b64) => {
    const text = atob(b64);
    const out = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
    return out.buffer;
  };
  const TYPED = {
    i8: Int8Array, ui8: Uint8Array, ui8c: Uint8ClampedArray, i16: Int16Array,
    ui16: Uint16Array, i32: Int32Array, ui32: Uint32Array, f32: Float32Array,
    f64: Float64Array, bi64: BigInt64Array, bui64: BigUint64Array,
  };
  const SPECIAL = { undefined: undefined, null: null, NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity, '-0': -0 };
  // Playwright's encoding of a value that is not plain JSON (Date, typed arrays,
  // Map, shared references...): one key says the kind.
  function decode(value, refs) {
    if (value === null || typeof value !== 'object') return value;
    if ('ref' in value) return refs.get(value.ref);
    if ('v' in value) return SPECIAL[value.v];
    if ('d' in value) return new Date(value.d);
    if ('u' in value) return new URL(value.u);
    if ('bi' in value) return BigInt(value.bi);
    if ('e' in value) {
      const error = new Error(value.e.m);
      error.name = value.e.n;
      error.stack = value.e.s;
      return error;
    }
    if ('r' in value) return new RegExp(value.r.p, value.r.f);
    if ('a' in value) {
      const out = [];
      refs.set(value.id, out);
      for (const item of value.a) out.push(decode(item, refs));
      return out;
    }
    if ('o' in value) {
      const out = {};
      refs.set(value.id, out);
      for (const { k, v } of value.o) if (k !== '__proto__') out[k] = decode(v, refs);
      return out;
    }
    if ('m' in value) {
      const out = new Map();
      refs.set(value.id, out);
      for (const { k, v } of value.m) out.set(decode(k, refs), decode(v, refs));
      return out;
    }
    if ('s' in value) {
      const out = new Set();
      refs.set(value.id, out);
      for (const item of value.s) out.add(decode(item, refs));
      return out;
    }
    if ('ta' in value) return new TYPED[value.ta.k](bytes(value.ta.b));
    if ('ab' in value) return bytes(value.ab.b);
    return value;
  }
  const valueOf = (record) => ('value' in record ? record.value : decode(record.valueEncoded, new Map()));
  const keyOf = (record) => ('key' in record ? record.key : decode(record.keyEncoded, new Map()));
  const hasKey = (record) => 'key' in record || 'keyEncoded' in record;

  try {
    for (const { name, value } of state.localStorage || []) localStorage.setItem(name, value);
  } catch (err) {
    failed('localStorage', err);
    return;
  }
  const databases = state.indexedDB || [];
  let left = databases.length;
  if (left === 0) sessionStorage.setItem(mark, 'ok');
  for (const db of databases) {
    let request;
    try {
      request = indexedDB.open(db.name, db.version);
    } catch (err) {
      failed(`IndexedDB ${db.name}`, err);
      continue;
    }
    let upgraded = false;
    request.onupgradeneeded = () => {
      upgraded = true;
      const conn = request.result;
      try {
        for (const store of db.stores) {
          const keyPath = store.keyPathArray !== undefined ? store.keyPathArray : store.keyPath;
          const objects = conn.createObjectStore(store.name, { autoIncrement: store.autoIncrement, keyPath });
          for (const index of store.indexes) {
            const path = index.keyPathArray !== undefined ? index.keyPathArray : index.keyPath;
            objects.createIndex(index.name, path, { unique: index.unique, multiEntry: index.multiEntry });
          }
          for (const record of store.records) {
            if (hasKey(record)) objects.add(valueOf(record), keyOf(record));
            else objects.add(valueOf(record));
          }
        }
      } catch (err) {
        failed(`IndexedDB ${db.name}`, err);
        request.transaction.abort();
      }
    };
    request.onsuccess = () => {
      request.result.close();
      // Only a new database is filled: one that was already there keeps what it has.
      if (!upgraded) failed(`IndexedDB ${db.name}`, 'the database already existed');
      left -= 1;
      if (left === 0 && sessionStorage.getItem(mark) === 'pending') sessionStorage.setItem(mark, 'ok');
    };
    request.onerror = () => failed(`IndexedDB ${db.name}`, request.error);
  }
})
