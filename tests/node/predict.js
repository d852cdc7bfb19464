// Predict latency_ms with an exported dnncost model from Node.js (onnxruntime-node).
//   node predict.js model.onnx input.json   ->   prints a JSON array of latency_ms
// input.json: {"layers": [[14 numbers], ...], "network_index": [0, 0, 1, ...]} for a
// model that takes layer tables (dnncost.layer_encoding lt-v1: one row per layer, in
// execution order, networks numbered 0..N-1), or [[f0, f1, ...], ...] feature rows (null
// for a missing value) for a model that takes features.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function feeds(input) {
  if (Array.isArray(input)) {
    const data = Float32Array.from(input.flat().map((v) => (v === null ? NaN : v)));
    return { features: new ort.Tensor('float32', data, [input.length, input[0].length]) };
  }
  const rows = input.layers.length;
  return {
    layers: new ort.Tensor('float32', Float32Array.from(input.layers.flat()), [rows, 14]),
    network_index: new ort.Tensor('int64', BigInt64Array.from(input.network_index.map(BigInt)),
                                  [rows]),
  };
}

async function main() {
  const [modelPath, inputPath] = process.argv.slice(2);
  const input = JSON.parse(fs.readFileSync(inputPath, 'utf8'));
  const session = await ort.InferenceSession.create(modelPath);
  const { latency_ms: latencyMs } = await session.run(feeds(input), ['latency_ms']);
  console.log(JSON.stringify(Array.from(latencyMs.data)));
}

main().catch((err) => {
  console.error(`predict.js: ${err.message}`);
  process.exit(2);
});
