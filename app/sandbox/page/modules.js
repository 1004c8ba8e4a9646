// The WhatsApp Web module surface that automation touches up to "authenticated"
// (docs/SANDBOX.md), as Backbone-like models: on/off/once/trigger, attribute
// properties that fire `change:<name>` with (model, value). The login controller
// (login.js) owns the behaviour; these objects only expose it.
//
// Inlined by the sandbox server into one IIFE together with login.js; it defines
// no globals itself (login.js installs window.require in the "full" flavour).

const eventsApi = {
  on(name, callback, context) {
    return addHandlers(this, name, callback, context, false);
  },
  once(name, callback, context) {
    return addHandlers(this, name, callback, context, true);
  },
  off(name, callback, context) {
    const events = this._events;
    if (name == null && callback == null && context == null) {
      for (const key of Object.keys(events)) delete events[key];
      return this;
    }
    const names = name == null ? Object.keys(events) : String(name).split(/\s+/);
    for (const n of names) {
      const list = events[n];
      if (!list) continue;
      events[n] = list.filter(
        (h) =>
          !(
            (callback == null || h.callback === callback) &&
            (context == null || h.context === context)
          ),
      );
      if (events[n].length === 0) delete events[n];
    }
    return this;
  },
  trigger(name, ...args) {
    for (const n of String(name).split(/\s+/)) {
      if (!n) continue;
      dispatch(this, n, args);
      if (n !== 'all') dispatch(this, 'all', [n, ...args]);
    }
    return this;
  },
};

function addHandlers(target, name, callback, context, once) {
  if (typeof callback !== 'function') return target;
  for (const n of String(name).split(/\s+/)) {
    if (!n) continue;
    (target._events[n] ||= []).push({ callback, context, once });
  }
  return target;
}

function dispatch(target, name, args) {
  const list = target._events[name];
  if (!list) return;
  for (const handler of list.slice()) {
    if (handler.once) {
      const current = target._events[name] || [];
      target._events[name] = current.filter((h) => h !== handler);
      if (target._events[name].length === 0) delete target._events[name];
    }
    try {
      handler.callback.apply(handler.context ?? target, args);
    } catch (err) {
      // One broken listener must not stop the others (or the login flow).
      console.error('listener for', name, 'failed:', err);
    }
  }
}

// An event emitter with Backbone's method names.
function makeEmitter(extra) {
  const emitter = Object.create(eventsApi);
  Object.defineProperty(emitter, '_events', { value: {}, enumerable: false });
  return Object.assign(emitter, extra || {});
}

// A model: each attribute is an own enumerable property; assigning it (or set())
// fires `change:<attr>` with (model, value) and then `change` with (model).
function makeModel(attributes, methods) {
  const model = makeEmitter();
  const values = Object.assign({}, attributes);
  Object.defineProperty(model, 'attributes', { value: values, enumerable: false });
  Object.defineProperty(model, 'get', { value: (key) => values[key], enumerable: false });
  Object.defineProperty(model, 'set', {
    enumerable: false,
    value(key, value) {
      const changes = typeof key === 'object' && key !== null ? key : { [key]: value };
      const changed = [];
      for (const [k, v] of Object.entries(changes)) {
        if (values[k] === v) continue;
        values[k] = v;
        changed.push(k);
      }
      for (const k of changed) model.trigger('change:' + k, model, values[k], {});
      if (changed.length) model.trigger('change', model, {});
      return model;
    },
  });
  for (const key of Object.keys(attributes)) {
    Object.defineProperty(model, key, {
      enumerable: true,
      get: () => values[key],
      set: (value) => model.set(key, value),
    });
  }
  for (const [name, fn] of Object.entries(methods || {})) {
    Object.defineProperty(model, name, { value: fn, enumerable: false, writable: true });
  }
  return model;
}

// A WhatsApp id (wid) as the site's objects look when read from outside:
// { user, server, _serialized } plus toString().
class Wid {
  constructor(user, server) {
    this.server = server;
    this.user = user;
    this._serialized = user + '@' + server;
  }
  toString() {
    return this._serialized;
  }
  equals(other) {
    return other != null && String(other) === this._serialized;
  }
  isUser() {
    return this.server === 'c.us' || this.server === 'lid';
  }
}

function bytesToB64(data) {
  let bytes;
  if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
  else if (ArrayBuffer.isView(data)) bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  else bytes = Uint8Array.from(data || []);
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}

function b64ToBytes(text) {
  const raw = atob(String(text));
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) out[i] = raw.charCodeAt(i);
  return out;
}

// Builds the module table served by window.require. `ctl` is the login controller
// (login.js): it holds the keys and talks to the server.
function createModules(ctl) {
  const STATES = {
    OPENING: 'OPENING',
    PAIRING: 'PAIRING',
    UNPAIRED: 'UNPAIRED',
    UNPAIRED_IDLE: 'UNPAIRED_IDLE',
    CONNECTED: 'CONNECTED',
    TIMEOUT: 'TIMEOUT',
    CONFLICT: 'CONFLICT',
    UNLAUNCHED: 'UNLAUNCHED',
    PROXYBLOCK: 'PROXYBLOCK',
    TOS_BLOCK: 'TOS_BLOCK',
    SMB_TOS_BLOCK: 'SMB_TOS_BLOCK',
    DEPRECATED_VERSION: 'DEPRECATED_VERSION',
  };
  const STREAMS = {
    DISCONNECTED: 'DISCONNECTED',
    SYNCING: 'SYNCING',
    RESUMING: 'RESUMING',
    CONNECTED: 'CONNECTED',
  };

  const Socket = makeModel(
    { state: STATES.OPENING, stream: STREAMS.DISCONNECTED, hasSynced: false },
    {
      logout: () => ctl.logout(),
      takeover: () => ctl.takeover(),
      reconnect: () => ctl.reconnect(),
    },
  );

  const Conn = makeModel(
    { ref: undefined, wid: undefined, pushname: undefined, platform: undefined, lid: undefined },
    {
      serialize() {
        const wid = Conn.wid;
        return {
          ref: Conn.ref ?? null,
          wid: wid ? { user: wid.user, server: wid.server, _serialized: wid._serialized } : null,
          pushname: Conn.pushname ?? null,
          platform: Conn.platform ?? null,
          phone: wid ? { device_manufacturer: 'pairdesk', device_model: 'sandbox phone' } : null,
          locales: navigator.language || 'en',
        };
      },
    },
  );

  const Cmd = makeEmitter({ refreshQR: () => ctl.refreshQR() });

  const noiseInfo = {
    get: async () => {
      const keys = await ctl.keys();
      return {
        staticKeyPair: { pubKey: b64ToBytes(keys.noise).buffer, privKey: b64ToBytes(keys.noisePriv).buffer },
      };
    },
  };
  const getADVSecretKey = () => ctl.keysNow().adv;

  const modules = {
    WAWebSocketModel: { Socket, SOCKET_STATE: STATES, SOCKET_STREAM: STREAMS },
    WAWebConnModel: { Conn },
    WAWebCmd: { Cmd },
    WAWebOfflineHandler: {
      OfflineMessageHandler: { getOfflineDeliveryProgress: () => ctl.offlineProgress() },
    },
    // Link with phone number (what whatsapp-web.js's requestPairingCode calls, in this
    // order: setPairingType('ALT_DEVICE_LINKING'), initializeAltDeviceLinking(),
    // startAltLinkingFlow(phone, showNotification) -> the 8-character code).
    WAWebAltDeviceLinkingApi: {
      setPairingType: (type) => ctl.setPairingType(type),
      getPairingType: () => ctl.pairingType(),
      initializeAltDeviceLinking: async () => ctl.initializeAltDeviceLinking(),
      initializeQRLinking: async () => ctl.initializeQRLinking(),
      startAltLinkingFlow: (phone, showNotification) => ctl.requestPairingCode(phone, showNotification),
    },
    WAWebLaunchSocketUtils: { refreshQR: () => ctl.refreshQR() },
    WAWebCompanionRegClientUtils: { DEVICE_PLATFORM: ctl.platform, waNoiseInfo: noiseInfo },
    WAWebSignalStoreApi: {
      waSignalStore: {
        getRegistrationInfo: async () => {
          const keys = await ctl.keys();
          return {
            registrationId: keys.registrationId,
            identityKeyPair: {
              pubKey: b64ToBytes(keys.identity).buffer,
              privKey: b64ToBytes(keys.identityPriv).buffer,
            },
          };
        },
      },
    },
    WAWebUserPrefsMultiDevice: { getADVSecretKey },
    WAWebAdvSignatureApi: { getADVSecretKey },
    WAWebUserPrefsInfoStore: { waNoiseInfo: noiseInfo },
    WABase64: { encodeB64: bytesToB64, decodeB64: (text) => b64ToBytes(text).buffer },
    WAWebMiscBrowserUtils: {
      info: () => ({ name: 'Chrome', version: ctl.browserVersion(), os: 'Linux' }),
    },
    WAWebUserPrefsMeUser: {
      getMaybeMePnUser: () => Conn.wid ?? null,
      getMaybeMeLidUser: () => Conn.lid ?? null,
      getMePnUserOrThrow: () => {
        if (!Conn.wid) throw new Error('no me user: not logged in');
        return Conn.wid;
      },
    },
  };

  function require(name) {
    if (Object.prototype.hasOwnProperty.call(modules, name)) return modules[name];
    throw new Error('Requiring unknown module "' + name + '"');
  }

  return { require, Socket, Conn, Cmd, STATES, STREAMS, Wid };
}
