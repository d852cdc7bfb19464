// Predict latency_ms with an exported dnncost model from Node.js (onnxruntime-node).
//   node predict.js model.onnx rows.json   ->   prints a JSON array of latency_ms
// rows.json: [[f0, f1, ...], ...] with null for a missing feature.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [modelPath, rowsPath] = process.argv.slice(2);
  const rows = JSON.parse(fs.readFileSync(rowsPath, 'utf8'));
  const nFeatures = rows[0].length;
  const data = Float32Array.from(rows.flat().map((v) => (v === null ? NaN : v)));
  const session = await ort.InferenceSession.create(modelPath);
  const feeds = { features: new ort.Tensor('float32', data, [rows.length, nFeatures]) };
  const { latency_ms: latencyMs } = await session.run(feeds);
  console.log(JSON.stringify(Array.from(latencyMs.data)));
}

main().catch((err) => {
  console.error(`predict.js: ${err.message}`);
  process.exit(2);
});
