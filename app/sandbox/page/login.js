// The login controller: keys in IndexedDB, the login socket, and the state the
// modules (modules.js) and the DOM (ui.js) show. Boot order as on the real site:
// window.require exists at once, window.Debug.VERSION after the boot delay, and
// only then the login socket opens, so no state change happens before a client
// could subscribe.

const config = JSON.parse(document.getElementById('sandbox-config').textContent);
const bootStarted = performance.now();
const DB_NAME = 'wawc';
const DB_STORE = 'user';
// This page load's id: a reconnect of the same page replaces its old socket
// instead of counting as a second live connection (a conflict).
const TAB = bytesToB64(crypto.getRandomValues(new Uint8Array(12)));

let keys = null;
let device = null; // { phone, device_id, lid } once linked
let db = null;
let ws = null;
let leaving = false; // navigating away after a logout: ignore the socket from now on
let retries = 0;
let offline = 0;
let pairingType = 'QR_CODE';
let altLinking = false; // "Link with phone number" screen: the code replaces the QR
let pendingCode = null; // { resolve, reject } of startAltLinkingFlow
let lastRef = null; // the QR on screen (kept while the code screen shows, for the way back)
let blockedState = null; // a terminal socket state: the page never leaves it
let passkeyAsk = null; // the server's passkey request while the link waits for it
let inbox = Promise.resolve(); // server messages are handled one after another

const ctl = {
  platform: config.platform,
  keys: () => keysReady,
  keysNow: () => keys || {},
  offlineProgress: () => offline,
  browserVersion: () => (navigator.userAgent.match(/Chrome\/([\d.]+)/) || [])[1] || '',
  setPairingType: (type) => {
    pairingType = String(type);
  },
  pairingType: () => pairingType,
  initializeAltDeviceLinking: () => {
    if (Socket.state !== 'UNPAIRED' && Socket.state !== 'UNPAIRED_IDLE') {
      throw new Error('alt device linking needs an unpaired page');
    }
    altLinking = true;
    ui.showCode(null);
  },
  initializeQRLinking: () => {
    pairingType = 'QR_CODE';
    if (pendingCode) pendingCode.reject(new Error('back to QR linking'));
    pendingCode = null;
    if (!altLinking) return;
    altLinking = false;
    send({ type: 'qr_linking' });
    if (lastRef && Socket.state === 'UNPAIRED') ui.showQr(lastRef.qr, lastRef.size, lastRef.modules);
    else if (Socket.state === 'UNPAIRED_IDLE') ui.showIdle(() => ctl.refreshQR());
  },
  logout: async () => {
    if (isOpen() && Socket.state === 'CONNECTED') send({ type: 'logout' });
    else await logoutLocally('local');
  },
  takeover: () => {
    if (Socket.state !== 'CONFLICT') return;
    if (isOpen()) send({ type: 'takeover' });
    else connect(); // a linked page that says hello is the live one
  },
  reconnect: () => {
    if (ws) {
      const old = ws;
      ws = null;
      old.close();
    }
    connect();
  },
  refreshQR: () => {
    if (Socket.state !== 'UNPAIRED' && Socket.state !== 'UNPAIRED_IDLE') return;
    if (isOpen()) send({ type: 'refresh' });
    else connect();
  },
  requestPairingCode: (phone, showNotification) =>
    new Promise((resolve, reject) => {
      if (!isOpen()) return reject(new Error('not connected'));
      if (pairingType !== 'ALT_DEVICE_LINKING' || !altLinking) {
        return reject(new Error('call setPairingType and initializeAltDeviceLinking first'));
      }
      if (pendingCode) pendingCode.reject(new Error('superseded by a newer request'));
      pendingCode = { resolve, reject };
      send({ type: 'pairing_code', phone: String(phone), show_notification: showNotification !== false });
    }),
};

const modules = createModules(ctl);
const { Socket, Conn, Cmd } = modules;
if (config.flavour === 'full') {
  Object.defineProperty(window, 'require', { value: modules.require, writable: true, configurable: true });
}
const ui = createUi(document.getElementById('app'), config.flavour, config.language);
const weight = createWeight(config.weight, () => send({ type: 'ping' }));
window.__sandboxWeight = weight; // read by the tests and the bench's calibration

// ------------------------------------------------------------------ storage

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function openDb() {
  const req = indexedDB.open(DB_NAME, 1);
  req.onupgradeneeded = () => req.result.createObjectStore(DB_STORE, { keyPath: 'key' });
  return request(req);
}

async function dbGet(key) {
  return request(db.transaction(DB_STORE).objectStore(DB_STORE).get(key));
}

async function dbPut(value) {
  return request(db.transaction(DB_STORE, 'readwrite').objectStore(DB_STORE).put(value));
}

function randomB64(n) {
  return bytesToB64(crypto.getRandomValues(new Uint8Array(n)));
}

async function loadKeys() {
  db = await openDb();
  let stored = await dbGet('keys');
  if (!stored) {
    stored = {
      key: 'keys',
      noise: randomB64(32),
      noisePriv: randomB64(32),
      identity: randomB64(32),
      identityPriv: randomB64(32),
      adv: randomB64(32),
      registrationId: crypto.getRandomValues(new Uint16Array(1))[0] & 0x3fff,
    };
    await dbPut(stored);
  }
  keys = stored;
  device = (await dbGet('device')) || null;
  return keys;
}

async function clearStorage() {
  if (db) db.close();
  db = null;
  try {
    localStorage.clear();
    sessionStorage.clear();
  } catch (err) {
    console.error('clearing web storage failed:', err);
  }
  const req = indexedDB.deleteDatabase(DB_NAME);
  await new Promise((resolve) => {
    req.onsuccess = req.onerror = req.onblocked = () => resolve();
  });
}

const keysReady = loadKeys().catch((err) => {
  console.error('IndexedDB is not usable; keys live in memory only:', err);
  keys = { key: 'keys', noise: randomB64(32), noisePriv: randomB64(32), identity: randomB64(32) };
  Object.assign(keys, { identityPriv: randomB64(32), adv: randomB64(32), registrationId: 1 });
  return keys;
});

// ------------------------------------------------------------------- socket

function isOpen() {
  return ws !== null && ws.readyState === WebSocket.OPEN;
}

function send(message) {
  if (isOpen()) ws.send(JSON.stringify(message));
}

function connect() {
  if (leaving) return;
  if (ws) return;
  // A linked page keeps its chats on screen while it reconnects.
  if (!device) ui.showOpening();
  if (Socket.state !== 'CONFLICT') Socket.state = 'OPENING';
  const sock = new WebSocket(config.wsUrl);
  ws = sock;
  sock.onopen = () => {
    if (ws !== sock) return;
    retries = 0;
    send({
      type: 'hello',
      tab: TAB,
      version: config.version,
      platform: config.platform,
      noise: keys.noise,
      identity: keys.identity,
      adv: keys.adv,
      device: device ? { phone: device.phone, device_id: device.device_id } : null,
    });
  };
  sock.onmessage = (event) => {
    if (ws !== sock) return;
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (err) {
      console.error('bad message from the login server:', err);
      return;
    }
    inbox = inbox.then(() => handle(message)).catch((err) => console.error('login step failed:', err));
  };
  sock.onclose = () => {
    if (ws !== sock) return;
    ws = null;
    onSocketLost();
  };
}

function onSocketLost() {
  if (leaving || blockedState) return;
  Socket.stream = 'DISCONNECTED';
  // A page in conflict or with an exhausted QR batch waits for the user.
  if (Socket.state === 'CONFLICT' || Socket.state === 'UNPAIRED_IDLE') return;
  const delay = Math.max(20, Math.min(5000, 250 * 2 ** retries) * config.timeScale);
  retries += 1;
  if (!device) ui.showOpening();
  Socket.state = 'OPENING';
  setTimeout(connect, delay);
}

// ------------------------------------------------------------------ protocol

async function handle(message) {
  switch (message.type) {
    case 'ref':
      lastRef = message;
      // The code screen stays up while refs keep turning underneath (as on the real site).
      if (!altLinking) ui.showQr(message.qr, message.size, message.modules);
      Conn.ref = message.ref;
      Socket.state = 'UNPAIRED';
      break;
    case 'idle':
      lastRef = null;
      if (!altLinking) ui.showIdle(() => ctl.refreshQR());
      Socket.state = 'UNPAIRED_IDLE';
      break;
    case 'pairing':
      altLinking = false;
      ui.showLoading(0);
      Socket.state = 'PAIRING';
      break;
    case 'passkey':
      passkeyAsk = message;
      confirmPasskey();
      break;
    case 'passkey_failed':
      ui.showPasskey(`The passkey was not accepted: ${message.message}`, confirmPasskey);
      break;
    case 'blocked':
      blockedState = message.state;
      ui.showBlocked(message.state);
      Socket.state = message.state;
      break;
    case 'connected':
      await onConnected(message);
      break;
    case 'synced':
      offline = 100;
      Cmd.trigger('offline_progress_update_from_bridge', offline);
      ui.showChats(device && device.phone);
      Socket.stream = 'CONNECTED';
      Socket.hasSynced = true;
      weight.start(device && device.phone);
      break;
    case 'pong':
      break;
    case 'conflict':
      ui.showConflict(() => ctl.takeover());
      Socket.state = 'CONFLICT';
      break;
    case 'logout':
      await logoutLocally(message.reason || 'remote');
      break;
    case 'pairing_code':
      if (altLinking) ui.showCode(message.code);
      if (pendingCode) pendingCode.resolve(message.code);
      pendingCode = null;
      break;
    case 'hang':
      hang();
      break;
    case 'error':
      if (pendingCode && message.about === 'pairing_code') pendingCode.reject(new Error(message.message));
      else console.error('login server:', message.message);
      break;
    default:
      console.error('unknown message from the login server:', message.type);
  }
}

// The passkey step: the official page asks the browser for the account's passkey
// (navigator.credentials.get); the customer confirms on their phone (hybrid) and the
// signed answer goes back to the server, which then completes the link.
async function confirmPasskey() {
  const ask = passkeyAsk;
  if (!ask) return;
  ui.showPasskey('', confirmPasskey);
  let credential;
  try {
    credential = await navigator.credentials.get({
      publicKey: {
        challenge: b64urlToBytes(ask.challenge),
        allowCredentials: ask.credential_ids.map((id) => ({
          type: 'public-key',
          id: b64urlToBytes(id),
          transports: ['hybrid', 'internal'],
        })),
        userVerification: 'preferred',
        timeout: 300000,
      },
    });
  } catch (err) {
    if (passkeyAsk !== ask) return;
    const hint = /^[0-9.]+$|^\[/.test(location.hostname)
      ? ' Passkeys need a host name: open this page as http://localhost:' + location.port + '/.'
      : '';
    ui.showPasskey(`${err.name}: ${err.message}.${hint}`, confirmPasskey);
    return;
  }
  if (passkeyAsk !== ask || !credential) return;
  const r = credential.response;
  send({
    type: 'passkey_assertion',
    assertion: {
      id: bytesToB64url(credential.rawId),
      client_data: bytesToB64url(r.clientDataJSON),
      authenticator_data: bytesToB64url(r.authenticatorData),
      signature: bytesToB64url(r.signature),
    },
  });
}

function b64urlToBytes(text) {
  return b64ToBytes(String(text).replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4));
}

function bytesToB64url(data) {
  return bytesToB64(data).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

async function onConnected(message) {
  passkeyAsk = null;
  device = { key: 'device', phone: message.phone, device_id: message.device_id, lid: message.lid };
  if (db) await dbPut(device);
  try {
    localStorage.setItem('last-wid-md', JSON.stringify(`${message.phone}:${message.device_id}@c.us`));
  } catch (err) {
    console.error('saving last-wid-md failed:', err);
  }
  Conn.set({
    wid: new modules.Wid(message.phone, 'c.us'),
    lid: new modules.Wid(message.lid, 'lid'),
    pushname: message.pushname,
    platform: message.phone_platform,
  });
  if (Socket.hasSynced) ui.showChats(message.phone);
  else {
    offline = 0;
    ui.showLoading(0);
    Cmd.trigger('offline_progress_update_from_bridge', offline);
  }
  Socket.stream = Socket.hasSynced ? 'CONNECTED' : 'SYNCING';
  Socket.state = 'CONNECTED';
}

async function logoutLocally(reason) {
  if (leaving) return;
  leaving = true;
  Cmd.trigger('logout', reason);
  if (ws) {
    const old = ws;
    ws = null;
    old.close();
  }
  await clearStorage();
  location.assign(new URL('/?post_logout=1', location.href).href);
}

function hang() {
  // The "hang the page script" fault: the renderer's main thread never returns.
  for (;;) {
    performance.now();
  }
}

async function boot() {
  await keysReady;
  const wait = config.bootDelay * 1000 - (performance.now() - bootStarted);
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  window.Debug = Object.assign(window.Debug || {}, { VERSION: config.version });
  connect();
}

boot();
