// pairdesk's in-page adapter for WhatsApp Web (docs/SESSIONS.md, "The login page").
//
// Evaluated once per page load, after `window.Debug.VERSION` exists (or the login
// DOM is there). Everything it learns is pushed to Python through the binding
// named in `opts.binding` (page.expose_binding); nothing here is polled.
//
// Strategies, best first:
//   modules  window.require(...) models and their change events (as whatsapp-web.js)
//   dom      a MutationObserver on div[data-ref] (the attribute is the whole QR string)
//   pixels   canvas draws are hooked and Python decodes a screenshot of the canvas
// Every strategy reads the page's *state*, never its English words: the socket model's
// state (modules), else the page's language-independent screen marker (dom, pixels).
// The passkey step is seen where the page asks the browser for the account's passkey
// (navigator.credentials.get), in every strategy.
// Messages: {t: 'strategy'|'qr'|'state'|'ready'|'idle'|'logout'|'conflict'|'canvas'|
//            'passkey'|'blocked', ...}
(opts) => {
  if (window.__pairdeskAdapter) return window.__pairdeskAdapter.strategy;
  const TERMINAL = opts.terminal || [];
  const push = (msg) => {
    try {
      const r = window[opts.binding](msg);
      if (r && typeof r.catch === 'function') r.catch(() => {});
    } catch (err) {
      // The binding is gone while the page unloads; nothing to report to.
    }
  };
  const tryRequire = (name) => {
    try {
      return window.require(name);
    } catch (err) {
      return null;
    }
  };
  const userOf = (wid) => {
    if (!wid) return '';
    if (typeof wid === 'string') return wid.split('@')[0].split(':')[0];
    return String(wid.user || '').split(':')[0];
  };
  // The screen the page shows, as a state name (the sandbox marks it on #app; '' when the
  // page does not say).
  const screenState = () => {
    const app = document.getElementById('app');
    return (app && app.getAttribute('data-screen')) || '';
  };
  // The login socket's state when the modules can be read (even if they appeared after
  // this adapter was injected), else the screen's.
  const pageState = () => {
    const sock = tryRequire('WAWebSocketModel');
    if (sock && sock.Socket && sock.Socket.state) return String(sock.Socket.state);
    return screenState();
  };
  // A linked page is looked at by no one (unless it is in the operator's window, where
  // `opts.drawLinked` is set): while it is linked, its document is not laid out, painted
  // or rastered (`display: none` on the root, from an adopted sheet the page's own DOM
  // code never sees). The DOM, the models, the timers and the socket carry on; the
  // renderer frees the layout tree and its tiles (docs/SESSIONS.md, "A linked page is
  // not drawn"). Any other state draws the page again, so a QR is always on screen.
  let undrawnSheet = null;
  const drawLinked = (linked) => {
    if (opts.drawLinked) return;
    try {
      if (!undrawnSheet) {
        undrawnSheet = new CSSStyleSheet();
        undrawnSheet.replaceSync('html { display: none !important; }');
      }
      const sheets = document.adoptedStyleSheets;
      const undrawn = sheets.includes(undrawnSheet);
      if (linked && !undrawn) document.adoptedStyleSheets = [...sheets, undrawnSheet];
      if (!linked && undrawn) {
        document.adoptedStyleSheets = sheets.filter((sheet) => sheet !== undrawnSheet);
      }
    } catch (err) {
      // No constructable style sheets: the page is drawn, as before.
    }
  };
  const lastWid = () => {
    // The real site keeps the linked number here; used when the modules are gone.
    try {
      return userOf(JSON.parse(localStorage.getItem('last-wid-md') || '""'));
    } catch (err) {
      return '';
    }
  };

  // The passkey gate: the page asks the browser for the account's passkey. The request
  // goes on untouched (in a window the operator and the customer answer it).
  function hookPasskey() {
    const creds = navigator.credentials;
    if (!creds || typeof creds.get !== 'function' || creds.__pairdeskHooked) return;
    const original = creds.get.bind(creds);
    const hooked = function (options) {
      const wanted = options && options.publicKey;
      if (!wanted) return original(options);
      push({ t: 'passkey', phase: 'asked', rp: String(wanted.rpId || location.hostname) });
      const answer = original(options);
      answer.then(
        () => push({ t: 'passkey', phase: 'answered' }),
        (err) => push({ t: 'passkey', phase: 'failed', error: String((err && err.name) || err) }),
      );
      return answer;
    };
    Object.defineProperty(creds, 'get', { value: hooked, configurable: true, writable: true });
    Object.defineProperty(creds, '__pairdeskHooked', { value: true });
  }

  function loadModules() {
    if (typeof window.require !== 'function') return null;
    const m = {
      socket: tryRequire('WAWebSocketModel'),
      conn: tryRequire('WAWebConnModel'),
      cmd: tryRequire('WAWebCmd'),
      reg: tryRequire('WAWebCompanionRegClientUtils'),
      signal: tryRequire('WAWebSignalStoreApi'),
      mdprefs: tryRequire('WAWebUserPrefsMultiDevice'),
      b64: tryRequire('WABase64'),
      me: tryRequire('WAWebUserPrefsMeUser'),
    };
    const ok =
      m.socket && m.socket.Socket && m.conn && m.conn.Conn && m.reg && m.reg.waNoiseInfo &&
      m.signal && m.signal.waSignalStore && m.mdprefs && m.b64 && m.b64.encodeB64;
    return ok ? m : null;
  }

  function installModules(m) {
    const Socket = m.socket.Socket;
    const Conn = m.conn.Conn;
    const Cmd = m.cmd && m.cmd.Cmd;
    let refSeq = 0;
    let readySent = false;
    let codeMode = false;
    const linking = () => tryRequire('WAWebAltDeviceLinkingApi');

    async function qrString(ref) {
      // Read the keys for every ref: they are regenerated after a logout.
      const noise = await m.reg.waNoiseInfo.get();
      const info = await m.signal.waSignalStore.getRegistrationInfo();
      const adv = await m.mdprefs.getADVSecretKey();
      return [
        ref,
        m.b64.encodeB64(noise.staticKeyPair.pubKey),
        m.b64.encodeB64(info.identityKeyPair.pubKey),
        adv,
        m.reg.DEVICE_PLATFORM,
      ].join(',');
    }
    async function onRef(ref) {
      if (!ref || Socket.state === 'CONNECTED') return;
      const seq = ++refSeq;
      try {
        const qr = await qrString(ref);
        // A newer ref may have arrived while the keys were read; it wins.
        if (seq === refSeq) push({ t: 'qr', qr, method: 'modules' });
      } catch (err) {
        push({ t: 'error', message: 'reading the login keys failed: ' + err });
      }
    }
    function me() {
      const user = (m.me && m.me.getMaybeMePnUser && m.me.getMaybeMePnUser()) || Conn.wid;
      return { phone: userOf(user) || lastWid(), platform: String(Conn.platform || '') };
    }
    function onState() {
      const state = String(Socket.state);
      push({ t: 'state', state, synced: !!Socket.hasSynced });
      drawLinked(state === 'CONNECTED' && !!Socket.hasSynced);
      if (state === 'CONNECTED' && Socket.hasSynced) {
        if (!readySent) push(Object.assign({ t: 'ready', method: 'modules' }, me()));
        readySent = true;
      } else if (state !== 'CONNECTED') {
        readySent = false;
      }
      if (state === 'UNPAIRED_IDLE') push({ t: 'idle' });
      if (state === 'CONFLICT') push({ t: 'conflict' });
      if (TERMINAL.includes(state)) push({ t: 'blocked', state });
    }
    Conn.on('change:ref', (_model, ref) => onRef(ref));
    Socket.on('change:state', onState);
    Socket.on('change:hasSynced', onState);
    if (Cmd) {
      Cmd.on('logout', () => push({ t: 'logout', source: 'cmd' }));
      Cmd.on('logout_from_bridge', () => push({ t: 'logout', source: 'bridge' }));
    }
    onState();
    if (Conn.ref && Socket.state !== 'UNPAIRED_IDLE') onRef(Conn.ref);
    return {
      strategy: 'modules',
      // A fresh QR batch; from the phone-number screen, back to QR linking first.
      regenerateQr: async () => {
        const api = linking();
        if (codeMode && api && api.initializeQRLinking) await api.initializeQRLinking();
        codeMode = false;
        return Cmd && Cmd.refreshQR && Cmd.refreshQR();
      },
      // Link with phone number, as whatsapp-web.js's requestPairingCode does.
      requestPairingCode: async (phone) => {
        const api = linking();
        if (!api || typeof api.startAltLinkingFlow !== 'function') return null;
        api.setPairingType('ALT_DEVICE_LINKING');
        await api.initializeAltDeviceLinking();
        codeMode = true;
        return String(await api.startAltLinkingFlow(phone, true));
      },
      logout: () => Socket.logout(),
    };
  }

  function reloadButton() {
    const exact = document.querySelector('div[data-ref] > span > button');
    if (exact) return exact;
    for (const b of document.querySelectorAll('button')) {
      const text = (b.textContent || '') + ' ' + (b.getAttribute('aria-label') || '');
      if (/reload/i.test(text)) return b;
    }
    return null;
  }

  function installFallback() {
    let lastRef = null;
    let state = '';
    let canvasPending = false;
    let scanQueued = false;
    const set = (next, msg) => {
      if (state === next) return;
      state = next;
      drawLinked(next === 'ready');
      if (msg) push(msg);
    };
    const askCanvas = () => {
      if (canvasPending) return;
      canvasPending = true;
      // Let the draw finish (one task) before Python takes the screenshot.
      setTimeout(() => {
        canvasPending = false;
        if (state === 'qr' || state === 'waiting') push({ t: 'canvas' });
      }, 60);
    };
    function scan() {
      scanQueued = false;
      if (document.querySelector("[data-icon='search'], #pane-side")) {
        lastRef = null;
        return set('ready', { t: 'ready', method: 'dom', phone: lastWid(), platform: '' });
      }
      const st = pageState();
      if (TERMINAL.includes(st)) return set('blocked', { t: 'blocked', state: st });
      if (st === 'CONFLICT') return set('conflict', { t: 'conflict' });
      if (st === 'PASSKEY') return set('passkey', { t: 'passkey', phase: 'asked', rp: '' });
      if (reloadButton()) {
        lastRef = null;
        return set('idle', { t: 'idle' });
      }
      const ref = (document.querySelector('div[data-ref]') || { getAttribute: () => null })
        .getAttribute('data-ref');
      if (ref) {
        set('qr', null);
        if (ref !== lastRef) push({ t: 'qr', qr: ref, method: 'dom' });
        lastRef = ref;
        return;
      }
      if (document.querySelector('canvas')) {
        set('waiting', null);
        askCanvas();
        return;
      }
      set('loading', null);
    }
    const queueScan = () => {
      if (!scanQueued) {
        scanQueued = true;
        queueMicrotask(scan);
      }
    };
    new MutationObserver(queueScan).observe(document.documentElement, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ['data-ref', 'data-icon', 'id', 'data-screen'],
    });
    // Canvas draws change no DOM; hook the 2D context so a redrawn QR is noticed.
    const proto = window.CanvasRenderingContext2D && CanvasRenderingContext2D.prototype;
    for (const name of ['fillRect', 'putImageData', 'drawImage', 'fill', 'clearRect']) {
      const original = proto && proto[name];
      if (typeof original !== 'function') continue;
      proto[name] = function (...args) {
        const result = original.apply(this, args);
        if (!document.querySelector('div[data-ref]') && (state === 'waiting' || state === 'qr')) {
          askCanvas();
        } else if (state !== 'waiting' && state !== 'qr') {
          queueScan();
        }
        return result;
      };
    }
    scan();
    return {
      strategy: 'fallback',
      regenerateQr: () => {
        const b = reloadButton();
        if (b) b.click();
        return !!b;
      },
      requestPairingCode: async () => null,
      logout: () => false,
    };
  }

  hookPasskey();
  const modules = loadModules();
  window.__pairdeskAdapter = modules ? installModules(modules) : installFallback();
  // A page booted straight into the passkey step (reopened while the phone waits).
  if (modules && screenState() === 'PASSKEY') push({ t: 'passkey', phase: 'asked', rp: '' });
  push({ t: 'strategy', strategy: window.__pairdeskAdapter.strategy });
  return window.__pairdeskAdapter.strategy;
}
