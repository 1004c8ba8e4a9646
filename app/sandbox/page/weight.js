// The page's weight once linked (SandboxOptions.page_weight, docs/SANDBOX.md).
// "light" (spec null) adds nothing. "real" makes a synced page cost what a live
// client costs: message models kept in the JavaScript heap, a chat list in the
// DOM, messages stored in IndexedDB (so snapshots carry them too), and the
// background work of a live client (keep-alive on the socket, sync ticks that
// touch the models and store an incoming message). The figures come from the
// server (app/sandbox/_options.py PAGE_WEIGHTS), calibrated there.

const WEIGHT_DB = 'model-storage'; // the real client's models database
const WEIGHT_STORE = 'message';
const WORDS_ = (
  'ok sure see you tomorrow thanks please call me when you arrive the order was sent ' +
  'price list photo payment received meeting at office lunch later good morning night ' +
  'yes no maybe address location invoice delivery today week month confirm cancel'
).split(' ');

function createWeight(spec, sendPing) {
  let started = false;
  const models = []; // what the real client keeps in memory: chats' message collections
  let chatList = null;
  let db = null;
  let serial = 0;

  function words(n) {
    const out = new Array(n);
    for (let i = 0; i < n; i += 1) out[i] = WORDS_[(Math.random() * WORDS_.length) | 0];
    return out.join(' '); // join makes a new flat string: every body really costs its bytes
  }

  function message(phone, chat) {
    serial += 1;
    return {
      id: `false_${chat}@c.us_${serial.toString(16).padStart(16, '0')}${Math.random().toString(36).slice(2)}`,
      from: `${chat}@c.us`,
      to: `${phone}@c.us`,
      t: Math.floor(Date.now() / 1000) - serial,
      type: 'chat',
      ack: 3,
      star: false,
      body: words(24 + ((Math.random() * 24) | 0)),
    };
  }

  function fillHeap(phone) {
    // About 400 bytes a model (object, id, body); stop at the calibrated heap size.
    const count = Math.round((spec.heapMb * 1024 * 1024) / 400);
    for (let i = 0; i < count; i += 1) models.push(message(phone, 6280000000000 + (i % spec.domRows)));
  }

  function fillDom() {
    // Appended outside #app, so the login UI's screen changes leave it in place.
    chatList = document.createElement('div');
    chatList.id = 'weight-chat-list';
    chatList.setAttribute('aria-hidden', 'true');
    const rows = document.createDocumentFragment();
    for (let i = 0; i < spec.domRows; i += 1) {
      const m = models[i] || { from: String(i), body: words(8), t: 0 };
      const row = document.createElement('div');
      row.className = 'chat-row';
      row.setAttribute('role', 'row');
      for (const [cls, text] of [
        ['avatar', ''],
        ['title', m.from],
        ['time', new Date(m.t * 1000).toISOString().slice(11, 16)],
        ['last', m.body],
        ['badge', String(i % 7)],
      ]) {
        const cell = document.createElement('span');
        cell.className = cls;
        if (text) cell.textContent = text;
        row.appendChild(cell);
      }
      rows.appendChild(row);
    }
    chatList.appendChild(rows);
    document.body.appendChild(chatList);
  }

  function req(r) {
    return new Promise((resolve, reject) => {
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  }

  async function fillStore(phone) {
    const open = indexedDB.open(WEIGHT_DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(WEIGHT_STORE, { keyPath: 'id' });
    db = await req(open);
    // A restored page finds its messages there already (they came back with the snapshot).
    const have = await req(db.transaction(WEIGHT_STORE).objectStore(WEIGHT_STORE).count());
    const want = Math.ceil((spec.storeKb * 1024) / 1024); // about 1 KiB a stored message
    for (let done = have; done < want; ) {
      const tx = db.transaction(WEIGHT_STORE, 'readwrite');
      const store = tx.objectStore(WEIGHT_STORE);
      for (let i = 0; i < 200 && done < want; i += 1, done += 1) {
        const m = message(phone, 6280000000000 + (done % spec.domRows));
        m.body = words(150); // about 1 KiB with its fields
        store.put(m);
      }
      await new Promise((resolve, reject) => {
        tx.oncomplete = resolve;
        tx.onerror = tx.onabort = () => reject(tx.error);
      });
    }
  }

  function tick(phone) {
    // A sync tick: walk a slice of the models (as the client does re-sorting chats and
    // updating acks), then store one incoming message, as a live client does.
    const until = performance.now() + spec.tickCpuMs;
    let i = (Math.random() * models.length) | 0;
    while (performance.now() < until && models.length) {
      const m = models[i % models.length];
      m.ack = (m.ack % 3) + 1;
      JSON.parse(JSON.stringify(m));
      i += 1;
    }
    if (db) {
      try {
        db.transaction(WEIGHT_STORE, 'readwrite').objectStore(WEIGHT_STORE).put(message(phone, 6280000000001));
      } catch (err) {
        console.error('storing a message failed:', err);
      }
    }
  }

  return {
    start(phone) {
      if (!spec || started) return;
      started = true;
      fillHeap(phone);
      fillDom();
      fillStore(phone).catch((err) => console.error('the weight store failed:', err));
      setInterval(() => tick(phone), spec.tickSeconds * 1000);
      setInterval(sendPing, spec.keepaliveSeconds * 1000);
    },
    stats() {
      return { models: models.length, rows: chatList ? chatList.childElementCount : 0 };
    },
  };
}
