// The login page's DOM, shaped like WhatsApp Web's where automation looks:
//   while unpaired  div[data-ref="<whole QR string>"] > canvas   (the QR, drawn)
//   when idle       div[data-ref] > span > button "Click to reload QR code"
//   after login     #pane-side (aria-label "Chat list") and span[data-icon="search"]
// Flavour "pixels" leaves out the data-ref attribute: only the drawn canvas tells
// the QR. The server sends the QR module matrix; this file only paints it.

function createUi(root, flavour) {
  const QUIET = 4; // modules of white border, as the QR spec asks
  const TARGET_PX = 264; // the real site's canvas size

  const landing = el('div', { id: 'landing', class: 'landing' }, [
    el('h1', {}, ['Use WhatsApp on your computer']),
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
      showLanding();
      if (refDiv) {
        refDiv.remove();
        refDiv = null;
        canvas = null;
      }
      if (!spinner.isConnected) qrBox.appendChild(spinner);
    },

    showQr(qr, size, bits) {
      showLanding();
      const div = ensureRefDiv(qr);
      for (const span of div.querySelectorAll(':scope > span')) span.remove();
      if (!canvas) {
        canvas = el('canvas', { 'aria-label': 'Scan this QR code to link a device!', role: 'img' });
        div.appendChild(canvas);
      }
      draw(canvas, size, bits);
    },

    showIdle(onReload) {
      showLanding();
      const div = ensureRefDiv(refDiv ? refDiv.getAttribute('data-ref') || '' : '');
      if (canvas) {
        canvas.remove();
        canvas = null;
      }
      if (!div.querySelector(':scope > span > button')) {
        const button = el('button', { type: 'button' }, ['Click to reload QR code']);
        button.addEventListener('click', onReload);
        div.appendChild(el('span', {}, [button]));
      }
    },

    // PAIRING, or CONNECTED before the first sync finished.
    showLoading(progress) {
      landing.remove();
      refDiv = null;
      canvas = null;
      qrBox.replaceChildren(spinner);
      const bar = el('progress', { max: '100', value: String(progress || 0) });
      setScreen(el('div', { id: 'startup', class: 'startup' }, ['Loading your chats', bar]));
    },

    showChats(phone) {
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
      landing.remove();
      const button = el('button', { type: 'button' }, ['Use here']);
      button.addEventListener('click', onUseHere);
      setScreen(
        el('div', { id: 'conflict', class: 'conflict' }, [
          el('p', {}, ['WhatsApp is open in another window. Click "Use here" to use WhatsApp in this window.']),
          button,
        ]),
      );
    },
  };
}
