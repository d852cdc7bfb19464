// Time onnxruntime-node on layer tables: node time.js model.onnx input.json runs
// input.json as for predict.js; prints {"networks": N, "seconds": best of runs}.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [modelPath, inputPath, runs] = process.argv.slice(2);
  const input = JSON.parse(fs.readFileSync(inputPath, 'utf8'));
  const options = { intraOpNumThreads: 1, interOpNumThreads: 1 };
  const session = await ort.InferenceSession.create(modelPath, options);
  const rows = input.network_index.length;
  const feeds = {
    layers: new ort.Tensor('float32', Float32Array.from(input.layers), [rows, 14]),
    network_index: new ort.Tensor('int64', BigInt64Array.from(input.network_index.map(BigInt)),
                                  [rows]),
  };
  let best = Infinity;
  let networks = 0;
  for (let i = 0; i < Number(runs || 3); i += 1) {
    const start = process.hrtime.bigint();
    const { latency_ms: ms } = await session.run(feeds, ['latency_ms']);
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
    networks = ms.data.length;
  }
  console.log(JSON.stringify({ networks, seconds: best }));
}

main().catch((err) => {
  console.error(`time.js: ${err.message}`);
  process.exit(2);
});
