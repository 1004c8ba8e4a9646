// The login page's DOM, shaped like WhatsApp Web's where automation looks:
//   while unpaired  div[data-ref="<whole QR string>"] > canvas   (the QR, drawn)
//   when idle       div[data-ref] > span > button "Click to reload QR code"
//   after login     #pane-side (aria-label "Chat list") and span[data-icon="search"]
//   phone number    div[data-link-code] with the 8 characters (code mode, no QR)
//   passkey, blocks #passkey, #blocked (the page waits for the passkey / never recovers)
// `#app[data-screen]` names the screen (QR, CODE, STARTUP, MAIN, CONFLICT, PASSKEY or
// the terminal socket state): the sandbox's stand-in for the site's app-screen mode, a
// language-independent page state the adapter's DOM and pixel strategies read.
// Flavour "pixels" leaves out the data-ref attribute: only the drawn canvas tells
// the QR. The server sends the QR module matrix; this file only paints it.

// The few words automation could be tempted to read, in the page's language.
const WORDS = {
  en: {
    title: 'Use WhatsApp on your computer',
    reload: 'Click to reload QR code',
    conflict: 'WhatsApp is open in another window. Click "Use here" to use WhatsApp in this window.',
    useHere: 'Use here',
  },
  es: {
    title: 'Usa WhatsApp en tu computadora',
    reload: 'Haz clic para volver a cargar el código QR',
    conflict: 'WhatsApp está abierto en otra ventana. Haz clic en "Usar aquí" para usarlo en esta ventana.',
    useHere: 'Usar aquí',
  },
};

function createUi(root, flavour, language) {
  const QUIET = 4; // modules of white border, as the QR spec asks
  const TARGET_PX = 264; // the real site's canvas size
  const words = WORDS[language] || WORDS.en;

  const landing = el('div', { id: 'landing', class: 'landing' }, [
    el('h1', {}, [words.title]),
    el('ol', { class: 'steps' }, [
      el('li', {}, ['Open WhatsApp on your phone']),
      el('li', {}, ['Tap Menu or Settings and select Linked devices']),
      el('li', {}, ['Tap on Link a device and point your phone at this screen']),
    ]),
  ]);
  const qrBox = el('div', { class: 'qr-box' });
  const spinner = el('div', { class: 'spinner', role: 'progressbar' }, ['Loading...']);
  landing.appendChild(qrBox);
  qrBox.appendChild(spinner);
  root.appendChild(landing);

  let refDiv = null; // the div[data-ref]
  let canvas = null;
  let screen = null; // the current non-landing screen (loading, chats, conflict)

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const child of children || []) {
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  }

  function mark(name) {
    root.setAttribute('data-screen', name);
  }

  function setScreen(node) {
    if (screen) screen.remove();
    screen = node;
    if (node) root.appendChild(node);
  }

  function showLanding() {
    setScreen(null);
    if (!landing.isConnected) root.appendChild(landing);
  }

  function ensureRefDiv(qr) {
    if (!refDiv) {
      refDiv = el('div', { class: 'qr-ref' });
      spinner.remove();
      qrBox.appendChild(refDiv);
    }
    if (flavour !== 'pixels') refDiv.setAttribute('data-ref', qr);
    return refDiv;
  }

  function draw(target, size, bits) {
    const total = size + 2 * QUIET;
    const scale = Math.max(2, Math.floor(TARGET_PX / total));
    const px = total * scale;
    target.width = px;
    target.height = px;
    target.style.width = px + 'px';
    target.style.height = px + 'px';
    const ctx = target.getContext('2d');
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, px, px);
    ctx.fillStyle = '#122e31';
    for (let y = 0; y < size; y += 1) {
      for (let x = 0; x < size; x += 1) {
        if (bits.charCodeAt(y * size + x) === 49) {
          ctx.fillRect((x + QUIET) * scale, (y + QUIET) * scale, scale, scale);
        }
      }
    }
  }

  return {
    // OPENING: no QR yet (or the old one is no longer valid).
    showOpening() {
      mark('QR');
      showLanding();
      for (const panel of qrBox.querySelectorAll('[data-link-code]')) panel.remove();
      if (refDiv) {
        refDiv.remove();
        refDiv = null;
        canvas = null;
      }
      if (!spinner.isConnected) qrBox.appendChild(spinner);
    },

    showQr(qr, size, bits) {
      mark('QR');
      showLanding();
      for (const panel of qrBox.querySelectorAll('[data-link-code]')) panel.remove();
      const div = ensureRefDiv(qr);
      for (const span of div.querySelectorAll(':scope > span')) span.remove();
      if (!canvas) {
        canvas = el('canvas', { 'aria-label': 'Scan this QR code to link a device!', role: 'img' });
        div.appendChild(canvas);
      }
      draw(canvas, size, bits);
    },

    showIdle(onReload) {
      mark('QR');
      showLanding();
      for (const panel of qrBox.querySelectorAll('[data-link-code]')) panel.remove();
      const div = ensureRefDiv(refDiv ? refDiv.getAttribute('data-ref') || '' : '');
      if (canvas) {
        canvas.remove();
        canvas = null;
      }
      if (!div.querySelector(':scope > span > button')) {
        const button = el('button', { type: 'button' }, [words.reload]);
        button.addEventListener('click', onReload);
        div.appendChild(el('span', {}, [button]));
      }
    },

    // PAIRING, or CONNECTED before the first sync finished.
    showLoading(progress) {
      mark('STARTUP');
      landing.remove();
      refDiv = null;
      canvas = null;
      qrBox.replaceChildren(spinner);
      const bar = el('progress', { max: '100', value: String(progress || 0) });
      setScreen(el('div', { id: 'startup', class: 'startup' }, ['Loading your chats', bar]));
    },

    showChats(phone) {
      mark('MAIN');
      landing.remove();
      const header = el('header', { class: 'side-header' }, [
        el('span', { 'data-icon': 'search', class: 'icon' }, ['\u{1F50D}']),
        el('span', { class: 'me' }, [phone ? '+' + phone : '']),
      ]);
      const pane = el('div', { id: 'pane-side', 'aria-label': 'Chat list', role: 'grid' }, [
        el('div', { class: 'empty' }, ['No chats yet: this is the pairdesk sandbox.']),
      ]);
      setScreen(el('div', { id: 'main', class: 'main' }, [header, pane]));
    },

    showConflict(onUseHere) {
      mark('CONFLICT');
      landing.remove();
      const button = el('button', { type: 'button' }, [words.useHere]);
      button.addEventListener('click', onUseHere);
      setScreen(
        el('div', { id: 'conflict', class: 'conflict' }, [
          el('p', {}, [words.conflict]),
          button,
        ]),
      );
    },

    // "Link with phone number": the code replaces the QR (null: the code is on its way).
    showCode(code) {
      mark('CODE');
      showLanding();
      if (refDiv) {
        refDiv.remove();
        refDiv = null;
        canvas = null;
      }
      spinner.remove();
      for (const panel of qrBox.querySelectorAll('[data-link-code]')) panel.remove();
      const text = code ? code.slice(0, 4) + '-' + code.slice(4) : 'Getting a code...';
      qrBox.appendChild(
        el('div', { class: 'link-code', 'data-link-code': code || '' }, [
          el('p', {}, ['Enter code on phone']),
          el('div', { class: 'code', role: 'status' }, [text]),
        ]),
      );
    },

    showPasskey(problem, onRetry) {
      mark('PASSKEY');
      landing.remove();
      const button = el('button', { type: 'button' }, ['Try again']);
      button.addEventListener('click', onRetry);
      const parts = [
        el('h2', {}, ['Use your passkey to link this device']),
        el('p', {}, ['Follow the prompt. You can confirm with the passkey on your phone.']),
      ];
      if (problem) parts.push(el('p', { class: 'problem' }, [problem]), button);
      setScreen(el('div', { id: 'passkey', class: 'conflict' }, parts));
    },

    showBlocked(state) {
      mark(state);
      landing.remove();
      const why = {
        PROXYBLOCK: 'WhatsApp does not accept connections from this network.',
        TOS_BLOCK: 'This account is not allowed to use WhatsApp.',
        SMB_TOS_BLOCK: 'This WhatsApp Business account is not allowed to use WhatsApp.',
        DEPRECATED_VERSION: 'This version of the browser is no longer supported. Update it.',
      }[state] || state;
      setScreen(el('div', { id: 'blocked', class: 'conflict' }, [el('p', {}, [why])]));
    },
  };
}
