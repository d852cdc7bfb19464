// dnncost in the browser (and Node.js): a network's layer table in the lt-v1 encoding,
// from a spec string or a .tflite file, the input of every exported dnncost .onnx model.
//
//   dnncost.specRows("r224 conv_k3_s2_c32 ir_k3_s1_h32_c16_arelu gap conv_k1_s1_c1000")
//   dnncost.tfliteRows(arrayBuffer)           // -> {rows: Float32Array(L * 14), layers: L}
//
// A port of gen/spec.py's grammar (with gen/archs.py's NAS-Bench-201 and FBNet strings),
// gen/layers.py's walker (one network, plain numbers; gen/nas_blocks.py's cells and
// reduction blocks) and gen/tflite_layers.py's reader; tests/test_web.py checks every row
// against Python's.
(function (root) {
  'use strict';
  const COLUMNS = ['op', 'in_h', 'in_w', 'out_h', 'out_w', 'cin', 'cout', 'kernel', 'stride',
    'padding', 'groups', 'activation', 'macs', 'params'];
  const OP = { conv: 1, dwconv: 2, fc: 3, add: 4, mul: 5, relu: 6, relu6: 7, hswish: 8,
    sigmoid: 9, pool: 10, concat: 11, other: 12 };
  const ACT = { relu: 1, relu6: 2, hswish: 3, sigmoid: 4, other: 5 };
  const ACT_NAMES = ['relu', 'relu6', 'hswish'];

  function fail(message) { throw new Error(message); }

  // ---- the grammar (gen/spec.py) -------------------------------------------------------
  function number(text, token) {
    if (!/^[+-]?\d+$/.test(text)) fail(`network spec token '${token}' is not valid`);
    return Number(text);
  }

  function parseToken(token) {
    const [kind, ...parts] = token.split('_');
    const f = {};
    for (const part of parts) {
      const m = /^(se|[a-z])(.+)$/.exec(part);
      if (!m || m[1] in f) fail(`network spec token '${token}': bad field '${part}'`);
      f[m[1]] = m[2];
    }
    const act = f.a === undefined ? null : f.a;
    const pad = f.p;
    delete f.a; delete f.p;
    const keys = Object.keys(f).sort().join(',');
    const same = pad === undefined ? null : new Map([['same', true], ['valid', false]]).get(pad);
    if (pad !== undefined && same === undefined) fail(`network spec token '${token}' is not valid`);
    const n = (k) => number(f[k], token);
    let stage = null;
    if (kind === 'gap' && keys === '' && pad === undefined) stage = { type: 'pool', kernel: 0, stride: 0, kind: 'avg', same: false };
    else if (ACT_NAMES.includes(kind) && !parts.length) stage = { type: 'act', act: kind };
    else if (kind === 'cell' && keys === 'e' && act === null && pad === undefined) stage = { type: 'cell', ops: f.e };
    else if (kind === 'res' && keys === 'c,s' && act === null && pad === undefined) stage = { type: 'res', stride: n('s'), cout: n('c') };
    else if ((kind === 'avgpool' || kind === 'maxpool') && act === null && (keys === 'k' || keys === 'k,s')
      && (kind === 'avgpool' || 'k,s' === keys)) {
      const kernel = n('k');
      stage = { type: 'pool', kernel, stride: f.s === undefined ? kernel : n('s'), kind: kind.slice(0, 3), same: !!same };
    } else if (kind === 'conv' && keys === 'c,k,s') stage = { type: 'conv', kernel: n('k'), stride: n('s'), cout: n('c'), act, same: same !== false };
    else if (kind === 'dw' && keys === 'k,s') stage = { type: 'dw', kernel: n('k'), stride: n('s'), act, same: same !== false };
    else if (kind === 'fire' && keys === 'c,h' && pad === undefined) stage = { type: 'fire', squeeze: n('h'), cout: n('c'), act };
    else if (['ir', 'fr', 'ds'].includes(kind) && pad === undefined) {
      const needed = kind === 'ds' ? ['c', 'k', 's'] : ['c', 'h', 'k', 's'];
      const given = Object.keys(f);
      if (needed.every((k) => k in f) && given.every((k) => needed.includes(k) || k === 'se' || k === 'g')) {
        stage = { type: 'block', kind, kernel: n('k'), stride: n('s'), hidden: f.h === undefined ? 0 : n('h'),
          cout: n('c'), se: f.se === undefined ? 0 : n('se'), act, groups: f.g === undefined ? 1 : n('g') };
      }
    }
    if (stage === null) fail(`network spec token '${token}' is not valid: write tokens as README's 'Generate networks' lists them`);
    return stage;
  }

  function validate(stage, token) {
    let bad;
    if (stage.type === 'cell') {
      bad = !/^[0-4]{6}$/.test(stage.ops);
    } else if (stage.type === 'res') {
      bad = stage.stride < 1 || stage.cout < 1;
    } else if (stage.type === 'act') {
      bad = false;
    } else if (stage.type === 'pool') {
      bad = stage.kernel < 0 || stage.stride < 0 || (stage.kernel === 0 && (stage.stride || stage.same));
    } else if (stage.type === 'fire') {
      bad = stage.squeeze < 1 || stage.cout < 2 || stage.cout % 2 !== 0;
    } else {
      bad = stage.kernel < 1 || stage.stride < 1 || (stage.type !== 'dw' && stage.cout < 1);
      if (stage.type === 'block') {
        bad = bad || stage.se < 0 || (stage.kind !== 'ds' && stage.hidden < 1) || stage.groups < 1
          || (stage.groups > 1 && (stage.kind !== 'ir' || stage.cout % stage.groups !== 0
            || (stage.hidden || 1) % stage.groups !== 0));
      }
    }
    if (bad || (stage.act !== undefined && stage.act !== null && !ACT_NAMES.includes(stage.act))) {
      fail(`network spec stage '${token}' is not valid: kernel/stride/channels must be positive`);
    }
  }

  // ---- NAS benchmark architectures (gen/archs.py) --------------------------------------
  const CELL_EDGES = [[1, 0], [2, 0], [2, 1], [3, 0], [3, 1], [3, 2]];
  const CELL_OPS = ['none', 'skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3'];
  const FBNET_BLOCKS = [[3, 1, 1], [3, 1, 2], [3, 3, 1], [3, 6, 1], [5, 1, 1], [5, 1, 2], [5, 3, 1],
    [5, 6, 1], null];
  const FBNET_LAYERS = [1, 4, 4, 4, 4, 4, 1];
  const FBNET_CHANNELS = [16, 24, 32, 64, 112, 184, 352];
  const FBNET_FORMS = {
    fbnet: { resolution: 32, stem: 1, strides: [1, 1, 2, 2, 1, 2, 1], header: 1504, classes: 100 },
    fbnet224: { resolution: 224, stem: 2, strides: [1, 2, 2, 2, 1, 2, 1], header: 1984, classes: 1000 },
  };
  const conv = (kernel, stride, cout, act) => ({ type: 'conv', kernel, stride, cout, act, same: true });
  const gap = { type: 'pool', kernel: 0, stride: 0, kind: 'avg', same: false };

  function nb201Spec(arch) {
    const found = {};
    const nodes = arch.trim().split('+');
    nodes.forEach((node, i) => node.replace(/^\|+|\|+$/g, '').split('|').forEach((edge) => {
      const m = /^([a-z_0-9]+)~(\d)$/.exec(edge);
      found[m ? `${i + 1},${m[2]}` : 'bad'] = m ? m[1] : null;
    }));
    const keys = Object.keys(found).sort().join(' ');
    if (nodes.length !== 3 || keys !== CELL_EDGES.map((e) => e.join(',')).sort().join(' ')
      || !Object.values(found).every((op) => CELL_OPS.includes(op))) {
      fail(`'${arch.slice(0, 100)}' is not a NAS-Bench-201 architecture string`);
    }
    const cell = { type: 'cell', ops: CELL_EDGES.map((e) => CELL_OPS.indexOf(found[e.join(',')])).join('') };
    const stages = [conv(3, 1, 16, null)];
    [16, 32, 64].forEach((channels, number) => {
      if (number) stages.push({ type: 'res', stride: 2, cout: channels });
      for (let i = 0; i < 5; i++) stages.push(cell);
    });
    stages.push({ type: 'act', act: 'relu' }, gap, conv(1, 1, 10, null));
    return { resolution: 32, inChannels: 3, stages };
  }

  function fbnetSpec(text) {
    const [name, rest = ''] = text.trim().split(/:(.*)/s);
    const indices = rest.replace(/\s/g, '').split(',').map((t) => (/^[+-]?\d+$/.test(t) ? Number(t) : -1));
    const form = FBNET_FORMS[name];
    if (!form || indices.length !== 22 || !indices.every((i) => i >= 0 && i < FBNET_BLOCKS.length)) {
      fail(`'${text.slice(0, 100)}' is not an FBNet architecture: fbnet: (or fbnet224:) and 22 block indices 0-8`);
    }
    const stages = [conv(3, form.stem, 16, 'relu')];
    let cin = 16, layer = 0;
    FBNET_LAYERS.forEach((count, stage) => {
      const cout = FBNET_CHANNELS[stage];
      for (let number = 0; number < count; number++) {
        const stride = number === 0 ? form.strides[stage] : 1;
        const block = FBNET_BLOCKS[indices[layer++]];
        if (block === null) {
          if (stride !== 1 || cin !== cout) stages.push(conv(1, stride, cout, 'relu'));
        } else {
          const [kernel, expansion, groups] = block;
          stages.push({ type: 'block', kind: 'ir', kernel, stride, hidden: cin * expansion, cout, se: 0, act: 'relu', groups });
        }
        cin = cout;
      }
    });
    stages.push(conv(1, 1, form.header, 'relu'), gap, conv(1, 1, form.classes, null));
    return { resolution: form.resolution, inChannels: 3, stages };
  }

  function parseSpec(text) {
    const odd = /[^\x00-\x7f]|[\x1c-\x1f]/.exec(text); // as gen/spec.py's plain_text
    if (odd) fail(`network spec holds '${odd[0]}' at position ${odd.index}: write specs in ASCII, tokens separated by spaces`);
    const start = text.trimStart();
    if (start.startsWith('|')) return nb201Spec(start);
    if (start.startsWith('fbnet')) return fbnetSpec(start);
    const tokens = text.replace(/;/g, ' ').split(/\s+/).filter((t) => t);
    if (!tokens.length) fail("network spec is empty: give e.g. 'r224 conv_k3_s2_c32 ...'");
    const head = /^r(\d+)(?:_i(\d+))?$/.exec(tokens[0]);
    if (!head) fail(`network spec must start with r<resolution>, not '${tokens[0]}'`);
    const stages = tokens.slice(1).map((t) => { const s = parseToken(t); validate(s, t); return s; });
    const resolution = Number(head[1]), inChannels = Number(head[2] || 3);
    if (resolution < 1 || inChannels < 1 || !stages.length) fail('network spec needs a resolution and stages');
    return { resolution, inChannels, stages };
  }

  // ---- the walker (gen/layers.py, one network) ------------------------------------------
  function walk(spec) {
    const rows = [];
    let h = spec.resolution, w = spec.resolution, c = spec.inChannels;
    const emit = (op, fields) => rows.push([op, h, w, fields.oh, fields.ow, c, fields.cout,
      fields.kernel || 0, fields.stride || 0, fields.padding || 0, fields.groups || 0,
      fields.act || 0, fields.macs, fields.params || 0]);
    const actCode = (name) => (name ? ACT[name] : 0);
    const ceil = (a, b) => Math.ceil(a / b);
    function conv(kernel, stride, cout, act, same, depthwise, groups = 1) {
      if (!depthwise && groups > 1 && c % groups !== 0) {
        fail(`a convolution in ${groups} groups takes ${c} input channels: the channels before a grouped block must divide into its groups`);
      }
      const oh = same ? ceil(h, stride) : Math.floor((h - kernel) / stride) + 1;
      const ow = same ? ceil(w, stride) : Math.floor((w - kernel) / stride) + 1;
      const perGroup = depthwise ? 1 : Math.floor(c / groups);
      const out = depthwise ? c : cout;
      const code = actCode(act);
      emit(depthwise ? OP.dwconv : OP.conv, { oh, ow, cout: out, kernel, stride,
        padding: same ? Math.floor((kernel - 1) / 2) : 0, groups: depthwise ? c : groups,
        act: code <= 2 ? code : 0, macs: oh * ow * out * kernel * kernel * perGroup,
        params: kernel * kernel * perGroup * out + out });
      h = oh; w = ow; c = out;
      if (code > 2) elementwise(code === 3 ? OP.hswish : OP.sigmoid);
    }
    function elementwise(op, groups = 0) { emit(op, { oh: h, ow: w, cout: c, macs: h * w * c, groups }); }
    const RELU = 'relu';
    function cell(ops) { // gen/nas_blocks.py walk_cell: every edge's rows, each added in turn
      const [h0, w0, c0] = [h, w, c];
      const op = {};
      CELL_EDGES.forEach((e, k) => { op[e.join(',')] = Number(ops[k]); });
      for (let i = 1; i <= 3; i++) {
        for (let j = 0; j < i; j++) {
          const e = op[`${i},${j}`];
          [h, w, c] = [h0, w0, c0];
          if (e === 2 || e === 3) {
            elementwise(OP.relu);
            conv(e === 3 ? 3 : 1, 1, c0, null, true, false);
          }
          if (e === 4) pool(3, 1, true);
          [h, w, c] = [h0, w0, c0];
          if (e === 0) elementwise(OP.mul); // none: the input times zero
          if (j > 0) elementwise(OP.add);
        }
      }
    }
    function res(stride, cout) { // walk_res: ReLU, 3x3 (stride), ReLU, 3x3; pooled 1x1 shortcut
      const [h0, w0, c0] = [h, w, c];
      elementwise(OP.relu);
      conv(3, stride, cout, null, true, false);
      elementwise(OP.relu);
      conv(3, 1, cout, null, true, false);
      const out = [h, w, c];
      [h, w, c] = [h0, w0, c0];
      pool(2, 2, false);
      conv(1, 1, cout, null, true, false);
      elementwise(OP.add);
      [h, w, c] = out;
    }
    function pool(kernel, stride, same) {
      if (kernel === 0) {
        emit(OP.pool, { oh: 1, ow: 1, cout: c, kernel: h, stride: 1, macs: c });
        h = 1; w = 1;
        return;
      }
      const size = (s) => (same ? ceil(s, stride) : Math.floor((s - kernel) / stride) + 1);
      const oh = size(h), ow = size(w);
      const pad = same ? Math.floor(((oh - 1) * stride + kernel - h) / 2) : 0;
      emit(OP.pool, { oh, ow, cout: c, kernel, stride, padding: pad > 0 ? pad : 0, macs: oh * ow * c });
      h = oh; w = ow;
    }
    for (const s of spec.stages) {
      if (s.type === 'conv') conv(s.kernel, s.stride, s.cout, s.act, s.same, false);
      else if (s.type === 'dw') conv(s.kernel, s.stride, 0, s.act, s.same, true);
      else if (s.type === 'pool') pool(s.kernel, s.stride, s.same);
      else if (s.type === 'act') elementwise(OP[s.act]);
      else if (s.type === 'cell') cell(s.ops);
      else if (s.type === 'res') res(s.stride, s.cout);
      else if (s.type === 'fire') {
        conv(1, 1, s.squeeze, s.act, true, false);
        const squeezed = [h, w, c];
        conv(1, 1, s.cout / 2, s.act, true, false);
        [h, w, c] = squeezed;
        conv(3, 1, s.cout / 2, s.act, true, false);
        c = s.cout;
        emit(OP.concat, { oh: h, ow: w, cout: c, macs: h * w * c });
      } else {
        const [h0, w0, c0] = [h, w, c];
        if (s.kind === 'ir') {
          conv(1, 1, s.hidden, s.act, true, false, s.groups);
          if (s.groups > 1) elementwise(OP.other, s.groups); // the channel shuffle
        }
        if (s.kind === 'fr') conv(s.kernel, s.stride, s.hidden, s.act, true, false);
        else conv(s.kernel, s.stride, 0, s.act, true, true);
        if (s.se > 0) {
          const [hs, ws, cs] = [h, w, c];
          pool(0, 0, false);
          conv(1, 1, s.se, 'relu', true, false);
          conv(1, 1, cs, null, true, false);
          elementwise(OP.sigmoid);
          [h, w, c] = [hs, ws, cs];
          elementwise(OP.mul);
        }
        conv(1, 1, s.cout, null, true, false, s.groups || 1);
        if (s.stride === 1 && c0 === c && h0 === h && w0 === w) elementwise(OP.add);
      }
    }
    return rows;
  }

  function pack(rows) {
    const out = new Float32Array(rows.length * COLUMNS.length);
    rows.forEach((row, i) => out.set(row, i * COLUMNS.length));
    return { rows: out, layers: rows.length };
  }

  // gen/archs.py nb201_pruned: a compiled graph drops every edge into a node whose output
  // reaches the cell's output only through none edges
  function prunedOps(ops) {
    const op = {};
    CELL_EDGES.forEach(([i, j], n) => { op[`${i},${j}`] = Number(ops[n]); });
    const live = new Set([3]);
    for (const j of [2, 1]) {
      if ([3, 2].some((i) => i > j && op[`${i},${j}`] && live.has(i))) live.add(j);
    }
    return CELL_EDGES.map(([i, j]) => (live.has(i) ? op[`${i},${j}`] : 0)).join('');
  }

  // options.deadCompute: a device model's metadata says 'pruned' (its cells run as their
  // pruned twins: dnncost.gen.archs.pruned_spec) or 'runs' (every edge, the default)
  function specRows(text, options = {}) {
    const spec = parseSpec(text);
    if (options.deadCompute === 'pruned') {
      spec.stages = spec.stages.map((s) => (s.type === 'cell' ? { ...s, ops: prunedOps(s.ops) } : s));
    }
    return pack(walk(spec));
  }

  // ---- .tflite (gen/tflite_layers.py: the fields read by their schema slots) ------------
  function tfliteRows(buffer) {
    try {
      return readTflite(buffer);
    } catch (e) { // DataView's RangeError: an offset outside the buffer
      if (e instanceof RangeError) fail('a corrupt TFLite model (truncated, or its tables point outside the file): re-export or re-download it');
      throw e;
    }
  }

  function readTflite(buffer) {
    const v = new DataView(buffer instanceof ArrayBuffer ? buffer : buffer.buffer,
      buffer.byteOffset || 0, buffer.byteLength);
    if (v.byteLength < 8 || String.fromCharCode(...new Uint8Array(v.buffer, v.byteOffset + 4, 4)) !== 'TFL3') {
      fail('not a TFLite model (no TFL3 identifier): pick a .tflite file');
    }
    const u32 = (p) => v.getUint32(p, true);
    const field = (table, slot) => {
      const vtable = table - v.getInt32(table, true);
      return 4 + 2 * slot < v.getUint16(vtable, true) ? v.getUint16(vtable + 4 + 2 * slot, true) : 0;
    };
    const scalar = (table, slot, get, def = 0) => { const o = field(table, slot); return o ? get(table + o) : def; };
    const sub = (table, slot) => { const o = field(table, slot); return o ? table + o + u32(table + o) : null; };
    const vector = (table, slot) => { const o = field(table, slot); if (!o) return null; const p = table + o + u32(table + o); return { start: p + 4, length: u32(p) }; };
    const tables = (table, slot) => { const vec = vector(table, slot); if (!vec) return []; return Array.from({ length: vec.length }, (_, i) => { const p = vec.start + 4 * i; return p + u32(p); }); };
    const ints = (table, slot) => { const vec = vector(table, slot); if (!vec) return []; return Array.from({ length: vec.length }, (_, i) => v.getInt32(vec.start + 4 * i, true)); };
    const i8 = (p) => v.getInt8(p), i32 = (p) => v.getInt32(p, true), u32f = (p) => v.getUint32(p, true);
    const model = u32(0);
    const codes = tables(model, 1).map((t) => Math.max(scalar(t, 0, i8), scalar(t, 3, i32)));
    const graph = tables(model, 2)[0];
    if (graph === undefined) fail('model has no subgraph');
    const shapes = tables(graph, 0).map((t) => ints(t, 0));
    const FUSED = { 0: 0, 1: ACT.relu, 3: ACT.relu6 };
    const ELEMENTWISE = { 0: OP.add, 18: OP.mul, 19: OP.relu, 21: OP.relu6, 117: OP.hswish, 14: OP.sigmoid, 2: OP.concat };
    const SKIPPED = new Set([6, 22, 34, 43, 60, 70, 114]);
    const SLOTS = { 3: [0, 2, 3], 4: [0, 2, 4], 1: [0, 2, 5], 17: [0, 2, 5] };
    const prod = (s) => s.reduce((a, b) => a * b, 1);
    const hwc = (s) => (s.length === 4 ? [s[1], s[2], s[3]] : [0, 0, s.length ? s[s.length - 1] : 0]);
    const rows = [];
    for (const op of tables(graph, 3)) {
      const code = codes[scalar(op, 0, u32f)];
      if (SKIPPED.has(code)) continue;
      const inputs = ints(op, 1).map((i) => (i >= 0 ? shapes[i] : []));
      const output = shapes[ints(op, 2)[0]] || [];
      const [ih, iw, ci] = hwc(inputs[0] || []);
      const [oh, ow, co] = hwc(output);
      const outEl = output.length ? prod(output) : 0;
      const options = sub(op, 4);
      const get = (slot) => (options === null ? 0 : scalar(options, slot, i32));
      const get8 = (slot) => (options === null ? 0 : scalar(options, slot, i8));
      const fused = (slot) => (FUSED[get8(slot)] === undefined ? ACT.other : FUSED[get8(slot)]);
      if (code === 3 || code === 4) {
        const [pad, strideSlot, actSlot] = SLOTS[code];
        const wt = inputs[1], kernel = wt[1];
        const bias = inputs.length > 2 && inputs[2].length ? prod(inputs[2]) : 0;
        const perGroup = code === 4 ? 1 : wt[3];
        rows.push([code === 4 ? OP.dwconv : OP.conv, ih, iw, oh, ow, ci, co, kernel, get(strideSlot),
          get8(pad) === 0 ? Math.floor((kernel - 1) / 2) : 0, code === 4 ? ci : Math.floor((ci || perGroup) / perGroup),
          fused(actSlot), outEl * kernel * wt[2] * perGroup, prod(wt) + bias]);
      } else if (code === 9) {
        const wt = inputs[1];
        const bias = inputs.length > 2 && inputs[2].length ? prod(inputs[2]) : 0;
        rows.push([OP.fc, ih, iw, oh, ow, wt[1], wt[0], 0, 0, 0, 0, fused(0), outEl * wt[1], prod(wt) + bias]);
      } else if (code === 1 || code === 17) {
        const [pad, strideSlot, actSlot] = SLOTS[code];
        const kernel = get(4), stride = get(strideSlot);
        const before = Math.floor(Math.max((oh - 1) * stride + kernel - ih, 0) / 2);
        rows.push([OP.pool, ih, iw, oh, ow, ci, co, kernel, stride, get8(pad) === 0 ? before : 0, 0,
          fused(actSlot), outEl, 0]);
      } else if ((code === 40 || code === 74 || code === 82) && (inputs[0] || []).length === 4) {
        rows.push([OP.pool, ih, iw, oh || 1, ow || 1, ci, co, ih, 1, 0, 0, 0, outEl, 0]);
      } else {
        const act = code === 0 || code === 18 ? fused(0) : 0;
        rows.push([ELEMENTWISE[code] || OP.other, oh, ow, oh, ow, co, co, 0, 0, 0, 0, act, outEl, 0]);
      }
    }
    return pack(rows.map((r) => r.map((x) => x || 0)));
  }

  const api = { COLUMNS, OP, ACT, parseSpec, specRows, tfliteRows };
  if (typeof module !== 'undefined' && module.exports) module.exports = api;
  else root.dnncost = api;
}(typeof self !== 'undefined' ? self : this));
