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
// Messages: {t: 'strategy'|'qr'|'state'|'ready'|'idle'|'logout'|'conflict'|'canvas', ...}
(opts) => {
  if (window.__pairdeskAdapter) return window.__pairdeskAdapter.strategy;
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
  const lastWid = () => {
    // The real site keeps the linked number here; used when the modules are gone.
    try {
      return userOf(JSON.parse(localStorage.getItem('last-wid-md') || '""'));
    } catch (err) {
      return '';
    }
  };

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
      if (state === 'CONNECTED' && Socket.hasSynced) {
        if (!readySent) push(Object.assign({ t: 'ready', method: 'modules' }, me()));
        readySent = true;
      } else if (state !== 'CONNECTED') {
        readySent = false;
      }
      if (state === 'UNPAIRED_IDLE') push({ t: 'idle' });
      if (state === 'CONFLICT') push({ t: 'conflict' });
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
      regenerateQr: () => Cmd && Cmd.refreshQR && Cmd.refreshQR(),
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

  function conflictShown() {
    for (const b of document.querySelectorAll('button')) {
      if (/use here/i.test(b.textContent || '')) return true;
    }
    return false;
  }

  function installFallback() {
    let lastRef = null;
    let state = '';
    let canvasPending = false;
    let scanQueued = false;
    const set = (next, msg) => {
      if (state === next) return;
      state = next;
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
      if (conflictShown()) return set('conflict', { t: 'conflict' });
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
      attributeFilter: ['data-ref', 'data-icon', 'id'],
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
      logout: () => false,
    };
  }

  const modules = loadModules();
  window.__pairdeskAdapter = modules ? installModules(modules) : installFallback();
  push({ t: 'strategy', strategy: window.__pairdeskAdapter.strategy });
  return window.__pairdeskAdapter.strategy;
}
