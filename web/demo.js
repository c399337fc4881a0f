// demo.js — the web demo's script: proof-of-work session, streamed
// completions, Stop (and Esc), receipts, flags, "Check a text", queue and
// rate-limit messages, the paused state. No framework, no build step; the
// form in index.html works without it.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const form = $('gen'), prompt = $('prompt'), gen = $('generate'), stop = $('stop');
  const out = $('output'), status = $('status'), error = $('error'), result = $('result');
  const receipt = $('receipt'), flagOpen = $('flag-open'), flagForm = $('flag-form');
  const flagStatus = $('flag-status'), checkForm = $('check-form'), checkResult = $('check-result');
  let state = null, token = null, controller = null, last = null, waitTimer = null, queueTimer = null;

  function say(el, text) { el.textContent = text; }
  function fail(text) { say(error, text); say(status, ''); }

  async function fetchState() {
    const r = await fetch('/demo/api/state', { credentials: 'same-origin', cache: 'no-store' });
    state = await r.json();
    if (state.token) token = state.token;
    showPaused();
    return state;
  }

  function showPaused() {
    const paused = !state.open || state.paused;
    document.body.dataset.state = !state.open ? 'closed' : state.paused ? 'paused' : 'open';
    $('paused').hidden = !paused;
    $('try').hidden = paused;
    $('check').hidden = paused || !state.detection;
    if (paused) {
      result.hidden = true;
      say($('paused-text'), state.paused_text || 'The demo is paused.');
    }
  }

  // SHA-256(challenge ":" nonce) with `bits` leading zero bits.
  function zeroBits(buf) {
    const b = new Uint8Array(buf);
    let z = 0;
    for (const x of b) {
      if (x === 0) { z += 8; continue; }
      return z + Math.clz32(x) - 24;
    }
    return z;
  }
  async function solve(challenge, bits) {
    const enc = new TextEncoder();
    for (let n = 0; ; n++) {
      const h = await crypto.subtle.digest('SHA-256', enc.encode(challenge + ':' + n));
      if (zeroBits(h) >= bits) return String(n);
    }
  }

  async function ensureSession() {
    if (token) return;
    say(status, 'Starting a demo session…');
    const st = await fetchState();
    if (token) return;
    const nonce = await solve(st.pow.challenge, st.pow.bits);
    const r = await fetch('/demo/api/session', {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ challenge: st.pow.challenge, nonce }),
    });
    const j = await r.json();
    if (!r.ok) throw new Error(j.error ? j.error.message : 'could not start a session');
    token = j.token;
  }

  function post(path, body, signal) {
    return fetch(path, {
      method: 'POST', credentials: 'same-origin', signal,
      headers: { 'Content-Type': 'application/json', 'X-Demo-Token': token },
      body: JSON.stringify(body),
    });
  }

  // A refused request, in words: never a raw error.
  async function explain(r) {
    let j = {};
    try { j = await r.json(); } catch (e) { /* not JSON */ }
    const code = j.error && j.error.code, msg = j.error && j.error.message;
    if (r.status === 429) {
      const s = r.headers.get('retry-after');
      countdown(s ? parseInt(s, 10) : 5);
      return;
    }
    if (code === 'suspended_by_incident' || code === 'demo_paused' || code === 'demo_closed') {
      await fetchState();
      return;
    }
    if (code === 'no_session' || code === 'bad_token') {
      token = null; // the release moved to another stage, or the session expired
      fail('Your demo session has ended. Press Generate again to start a new one.');
      return;
    }
    fail(msg ? 'The request was refused: ' + msg : 'The request failed (HTTP ' + r.status + ').');
  }

  function countdown(s) {
    clearInterval(waitTimer);
    const tick = () => {
      if (s <= 0) { clearInterval(waitTimer); say(error, ''); say(status, 'You can try again now.'); gen.disabled = false; return; }
      say(error, 'You have used this demo\u2019s token budget for now: try again in ' + s + ' s.');
      s--;
    };
    gen.disabled = true;
    tick();
    waitTimer = setInterval(tick, 1000);
  }

  function settings() {
    const num = (id) => { const v = $(id).value.trim(); return v === '' ? undefined : Number(v); };
    return { max_tokens: num('max_tokens'), temperature: num('temperature'), top_p: num('top_p') };
  }

  function setBusy(busy) {
    out.setAttribute('aria-busy', busy ? 'true' : 'false');
    gen.disabled = busy;
    stop.disabled = !busy;
    $('keys-hint').hidden = !busy;
  }

  function showReceipt(r) {
    receipt.textContent = '';
    const rows = [['Completion', r.id], ['Stage', r.stage], ['Model', r.model],
      ['Watermark', r.watermark ? 'on' : 'off'], ['Filter', r.filter], ['Finish', r.finish]];
    for (const [k, v] of rows) {
      const dt = document.createElement('dt'), dd = document.createElement('dd');
      dt.textContent = k; dd.textContent = v;
      receipt.append(dt, dd);
    }
    flagOpen.hidden = !state.flags || !r.id;
  }

  function watchQueue(t0) {
    clearInterval(queueTimer);
    const mine = controller;
    const waiting = () => controller === mine && !out.textContent.length;
    let inFlight = false; // one poll at a time, so a slow link is not flooded
    queueTimer = setInterval(async () => {
      if (!waiting()) { clearInterval(queueTimer); return; }
      if (inFlight) return;
      inFlight = true;
      let j;
      try {
        j = await (await fetch('/demo/api/state', { credentials: 'same-origin', cache: 'no-store' })).json();
      } catch (e) { return; } finally { inFlight = false; }
      if (!waiting()) return;
      const q = j.queue || {};
      say(status, q.waiting > 0 ? 'The server is busy: ' + q.waiting + ' request(s) ahead of yours in the queue.'
        : 'Generating… (' + Math.round((performance.now() - t0) / 100) / 10 + ' s)');
    }, 2000);
  }

  async function generate(ev) {
    ev.preventDefault();
    if (controller) return;
    controller = new AbortController();
    say(error, '');
    say(status, 'Generating…');
    out.textContent = '';
    flagForm.hidden = true;
    flagOpen.setAttribute('aria-expanded', 'false');
    say(flagStatus, '');
    setBusy(true);
    try { await ensureSession(); } catch (e) { controller = null; setBusy(false); fail(e.message); return; }
    say(status, 'Generating…');
    const t0 = performance.now();
    let first = null, id = null, finish = null, text = '';
    result.hidden = false;
    watchQueue(t0);
    try {
      const r = await post('/demo/api/complete', Object.assign({ prompt: prompt.value }, settings()), controller.signal);
      if (!r.ok) { await explain(r); return; }
      const reader = r.body.getReader(), dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const line = buf.slice(0, i); buf = buf.slice(i + 2);
          if (!line.startsWith('data: ')) continue;
          const data = line.slice(6);
          if (data === '[DONE]') continue;
          const ch = JSON.parse(data);
          id = ch.id;
          const c = ch.choices && ch.choices[0];
          if (!c) continue;
          if (c.text) {
            if (first === null) { first = performance.now() - t0; document.body.dataset.ttft = String(Math.round(first)); }
            text += c.text;
            out.textContent = text;
          }
          if (c.finish_reason) finish = c.finish_reason;
        }
      }
      say(status, 'Done.' + (first !== null ? ' First words after ' + (first / 1000).toFixed(2) + ' s.' : ''));
    } catch (e) {
      if (e.name === 'AbortError') { finish = 'stopped'; say(status, 'Stopped.'); }
      else fail('The connection failed: ' + e.message);
    } finally {
      controller = null;
      clearInterval(queueTimer);
      setBusy(false);
      if (waitTimer && error.textContent) gen.disabled = true;
      if (id) {
        last = { id, stage: state.stage, model: state.model, watermark: state.watermark,
          filter: finish === 'content_filter' ? 'output blocked by the content filter' : 'passed',
          finish: finish || 'stopped' };
        showReceipt(last);
      }
    }
  }

  function stopNow() { if (controller) controller.abort(); }

  async function sendFlag(ev) {
    ev.preventDefault();
    if (!last) return;
    const r = await post('/demo/api/flag', {
      completion_id: last.id, category: $('flag-reason').value,
      comment: $('flag-comment').value,
    });
    if (r.ok) {
      const j = await r.json();
      flagForm.hidden = true;
      flagOpen.setAttribute('aria-expanded', 'false');
      say(flagStatus, 'Thank you. Your flag is ticket #' + j.id + '; the release team reviews it.');
      flagOpen.focus();
    } else {
      const j = await r.json().catch(() => ({}));
      say(flagStatus, 'The flag was not sent: ' + (j.error ? j.error.message : 'HTTP ' + r.status));
    }
  }

  async function check(ev) {
    ev.preventDefault();
    say(checkResult, 'Checking…');
    try { await ensureSession(); } catch (e) { say(checkResult, e.message); return; }
    const r = await post('/demo/api/detect', { text: $('check-text').value });
    const j = await r.json().catch(() => ({}));
    if (!r.ok) { say(checkResult, 'Not checked: ' + (j.error ? j.error.message : 'HTTP ' + r.status)); return; }
    const w = j.watermark, z = j.zero_shot;
    const verdict = { watermarked: 'watermarked: this server very likely generated it',
      likely_generated: 'likely generated by a model', not_detected: 'no sign of this model' }[j.verdict] || j.verdict;
    say(checkResult, 'Verdict: ' + verdict + '. Watermark z = ' + w.z.toFixed(2) + ' (p = ' +
      w.p_value.toExponential(2) + ', ' + w.tokens_scored + ' tokens scored); zero-shot score ' +
      z.score.toFixed(2) + ' (threshold ' + z.threshold + ').');
  }

  form.addEventListener('submit', generate);
  prompt.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  });
  stop.addEventListener('click', stopNow);
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && controller) { e.preventDefault(); stopNow(); } });
  flagOpen.addEventListener('click', () => {
    const open = flagForm.hidden;
    flagForm.hidden = !open;
    flagOpen.setAttribute('aria-expanded', String(open));
    if (open) $('flag-reason').focus();
  });
  $('flag-cancel').addEventListener('click', () => {
    flagForm.hidden = true; flagOpen.setAttribute('aria-expanded', 'false'); flagOpen.focus();
  });
  flagForm.addEventListener('submit', sendFlag);
  if (checkForm) checkForm.addEventListener('submit', check);
  // Enter in the prompt submits; Shift+Enter makes a new line.
  $('keys-hint').textContent = 'Esc stops generating.';
  fetchState().catch(() => {});
  // Paused or resumed by the release team: follow it without a reload.
  let polling = false;
  setInterval(() => {
    if (controller || polling) return;
    polling = true;
    fetchState().catch(() => {}).finally(() => { polling = false; });
  }, 2000);
})();
