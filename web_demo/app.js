// hybridsplit web demo: sample window -> normalise + quantize (manifest) -> device.tflite in
// LiteRT.js -> int8 features in the wire format v1 -> POST /v1/predict (bearer token) -> label.
//
// Server URL: ?server=... or the input box (default from /config.json). Token: #token=... in the
// URL (the fragment never leaves the browser) or the input box; both are kept in localStorage.
import { DeviceHalf, addNoise, preprocess } from './device.js';
import { hex, sha256 } from './sha256.js';
import { CONTENT_TYPE, encodeInt8 } from './wire.js';

const $ = (id) => document.getElementById(id);
const state = { manifest: null, bundleId: null, samples: null, device: null, last: null };

function setStatus(text, kind) {
  $('status').textContent = text;
  $('status').dataset.state = kind;
}

async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

async function init() {
  const params = new URLSearchParams(location.search);
  const hash = new URLSearchParams(location.hash.slice(1));
  const config = await (await fetch('config.json')).json();
  $('server').value = params.get('server') || localStorage.getItem('hs.server') || config.server || '';
  $('token').value = hash.get('token') || localStorage.getItem('hs.token') || '';
  if (hash.get('token')) history.replaceState(null, '', location.pathname + location.search);

  const manifestBytes = await fetchBytes('bundle/manifest.json');
  state.manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
  state.bundleId = sha256(manifestBytes);
  const m = state.manifest;
  if (m.schema_version !== 1) throw new Error(`manifest schema_version ${m.schema_version}; this page reads 1`);
  if (m.feature.dtype !== 'int8' || !m.input.quantization) throw new Error('this page runs full-int8 device halves');
  state.samples = await (await fetch('bundle/samples.json')).json();

  const modelBytes = await fetchBytes('bundle/device.tflite');
  state.device = await DeviceHalf.create(modelBytes, m, new URL('vendor/@litertjs/core/wasm/', location.href).href);

  $('bundle-info').textContent =
    `${m.backbone} cut at ${m.cut} · input ${m.input.dtype} [${m.input.shape}] ${m.input.layout} → ` +
    `int8 features [${m.feature.shape}] (${m.feature.bytes_per_inference} bytes vs ${m.feature.raw_input_bytes} raw) · ` +
    `bundle ${hex(state.bundleId).slice(0, 16)}…`;
  const select = $('sample');
  state.samples.samples.forEach((s, i) => {
    const opt = document.createElement('option');
    opt.value = String(i);
    opt.textContent = `#${s.index} — ${s.label_name}`;
    select.appendChild(opt);
  });
  select.disabled = false;
  $('go').disabled = false;
  setStatus('ready', 'ready');
}

async function runOnce() {
  const m = state.manifest;
  const server = $('server').value.trim().replace(/\/+$/, '');
  const token = $('token').value.trim();
  localStorage.setItem('hs.server', server);
  localStorage.setItem('hs.token', token);
  const i = Number($('sample').value);
  const sample = state.samples.samples[i];
  setStatus(`running sample #${sample.index}…`, 'running');
  $('go').disabled = true;
  try {
    const quantized = preprocess(Float64Array.from(sample.x), m);
    const { features, ms } = await state.device.run(quantized);
    const sent = addNoise(features, m.feature);
    const body = encodeInt8(sent, m.feature.shape, state.bundleId, m.feature.scale, m.feature.zero_point);
    const t0 = performance.now();
    const r = await fetch(`${server}/v1/predict`, {
      method: 'POST', body,
      headers: { 'Content-Type': CONTENT_TYPE, Authorization: `Bearer ${token}` },
    });
    const rtt = performance.now() - t0;
    const answer = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(`server answered ${r.status}: ${answer.detail || r.statusText}`);
    const p = answer.predictions[0];
    state.last = { sample: i, index: p.index, label: p.label, probability: p.probabilities[p.index],
                   features: Array.from(sent), deviceMs: ms, cloudMs: answer.cloud_ms, rttMs: rtt, bytes: body.length };
    $('prediction').textContent = `${p.label}  (${(100 * p.probabilities[p.index]).toFixed(0)} %)`;
    $('prediction').className = `prediction ${p.index === sample.label ? 'right' : 'wrong'}`;
    $('prediction').dataset.index = String(p.index);
    $('truth').textContent = sample.label_name;
    $('device-ms').textContent = `${ms.toFixed(2)} ms`;
    $('cloud-ms').textContent = `${answer.cloud_ms.toFixed(2)} ms`;
    $('rtt-ms').textContent = `${rtt.toFixed(1)} ms`;
    $('bytes').textContent = `${body.length} bytes (${sent.length} feature bytes; raw window ${m.feature.raw_input_bytes} bytes)`;
    $('result').hidden = false;
    setStatus(`done: sample #${sample.index}`, 'done');
  } catch (e) {
    state.last = { sample: i, error: String(e.message || e) };
    setStatus(String(e.message || e), 'error');
  } finally {
    $('go').disabled = false;
  }
}

$('go').addEventListener('click', runOnce);
$('connect-form').addEventListener('submit', (e) => e.preventDefault());
window.hybridsplitDemo = state;  // read by the end-to-end test (tests/demos/test_web_demo.py)
init().catch((e) => setStatus(`cannot start: ${e.message || e}`, 'error'));
