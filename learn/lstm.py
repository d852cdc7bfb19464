"""The LSTM cost model (the only module of learn/ that imports torch, lazily).

An LSTM reads a network's layer sequence (``sequence.layer_sequence``); a small MLP maps
its last hidden state to ``a(n)`` and ``b(n)``, and the log latency is
``a(n) + b(n) . device`` (collaborative: relative to the signature mean), bilinear in the
device descriptor like the low-rank model (collaborative: signature log latencies minus
their mean; combined: standardized hardware specs). Bilinear beat an MLP over the
concatenation by ~20 points of within-10% on a benchmark fold.

Export form (learn/exportable.py): ``X`` for this model is the *padded flattened layer
sequence* (``sequence.sequence_matrix(layers, max_layers)``, feature set ``seq-v1``,
``max_layers`` in the metadata). The exported module reshapes ``X`` to ``[N, L, D]``,
runs the LSTM to each network's true last layer (rows of all zeros are padding) and adds
the device, held as buffers.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from dnncost.errors import ModelError
from dnncost.records import Device
from dnncost.learn.dataset import LatencyData, cpu_vocabulary, device_specs
from dnncost.learn.device_model import DeviceModel
from dnncost.learn.exportable import ExportableModel
from dnncost.learn.sequence import SEQUENCE_NAMES, SEQUENCE_SET, sequence_matrix
from dnncost.learn.lowrank import fill_missing
from dnncost.learn.models import _Base, _measured_vector


def _module_class() -> Any:
    import torch
    from torch import nn

    class SequenceRegressor(nn.Module):
        """[N, L*D] padded sequences (+ device buffers) -> log latency [N]."""

        def __init__(self, width: int, device_dim: int, hidden: int = 64) -> None:
            super().__init__()
            self.width = width
            self.lstm = nn.LSTM(width, hidden, batch_first=True)
            self.head = nn.Sequential(nn.Linear(hidden, 64), nn.ReLU(),
                                      nn.Linear(64, 1 + device_dim))
            self.register_buffer("device_vector", torch.zeros(device_dim))
            self.register_buffer("bias_log_ms", torch.zeros(()))

        def embed(self, x: "torch.Tensor") -> "torch.Tensor":
            seq = x.reshape(x.shape[0], -1, self.width)
            lengths = (seq.abs().sum(-1) > 0).sum(1).clamp(min=1)
            out, _ = self.lstm(seq)
            return out[torch.arange(seq.shape[0]), lengths - 1]

        def score(self, emb: "torch.Tensor", device: "torch.Tensor") -> "torch.Tensor":
            """Bilinear in the device, like the low-rank model: a(n) + b(n) . device."""
            out = self.head(emb)
            return out[:, 0] + (out[:, 1:] * device).sum(1)

        def forward(self, x: "torch.Tensor") -> "torch.Tensor":
            emb = self.embed(x)
            device = self.device_vector.unsqueeze(0).expand(emb.shape[0], -1)
            return self.score(emb, device) + self.bias_log_ms

    return SequenceRegressor


class LSTMCostModel(_Base):
    """LSTM over layer sequences + device descriptor -> log latency (combined or
    collaborative; individual trains on the device's own measurements)."""

    def __init__(self, mode: str, seed: int = 0, epochs: int = 200, hidden: int = 64,
                 max_layers: int = 160, learning_rate: float = 3e-3) -> None:
        super().__init__(mode, seed)
        self.epochs, self.hidden, self.max_layers = epochs, hidden, max_layers
        self.learning_rate = learning_rate

    def _descriptors(self, data: LatencyData) -> tuple[np.ndarray, np.ndarray]:
        y = data.log_ms
        if self.mode == "collaborative":
            # a signature run left out of training takes the low-rank fill (a NaN
            # descriptor would make every gradient NaN)
            sig = fill_missing(y)[:, data.network_index(self.signature_)]
            return sig - sig.mean(1, keepdims=True), sig.mean(1)
        if self.mode == "combined":
            specs = np.nan_to_num(device_specs(data.devices, self.cpus_).astype(float))
            return (specs - self.spec_mean_) / self.spec_std_, np.zeros(len(y))
        return np.zeros((len(y), 0)), np.zeros(len(y))

    def _train(self, x: np.ndarray, descriptors: np.ndarray, targets: np.ndarray) -> Any:
        import torch

        torch.manual_seed(self.seed)
        module = _module_class()(len(SEQUENCE_NAMES), descriptors.shape[1], self.hidden)
        xs = torch.from_numpy(x)
        desc = torch.from_numpy(descriptors.astype(np.float32))
        y = torch.from_numpy(targets.astype(np.float32))  # [devices, networks], NaN missing
        mask = torch.isfinite(y)
        centre = float(np.nanmean(targets))
        optimizer = torch.optim.Adam(module.parameters(), lr=self.learning_rate)
        for _ in range(self.epochs):
            optimizer.zero_grad()
            emb = module.embed(xs)  # every network once per step
            pred = module.score(emb.repeat(len(desc), 1),
                                desc.repeat_interleave(len(xs), 0)).reshape(y.shape)
            loss = ((pred + centre - y)[mask] ** 2).mean()
            loss.backward()
            optimizer.step()
        module.bias_log_ms.fill_(centre)
        return module.eval()

    def fit(self, data: LatencyData, signature: Sequence[str] = (),
            device_weights: np.ndarray | None = None) -> "LSTMCostModel":
        self._remember(data, signature)
        self.sequences_ = sequence_matrix(data.layers, self.max_layers)
        if self.mode == "individual":
            return self
        if self.mode == "combined":
            self.cpus_ = cpu_vocabulary(data.devices)
            specs = np.nan_to_num(device_specs(data.devices, self.cpus_).astype(float))
            self.spec_mean_, self.spec_std_ = specs.mean(0), specs.std(0) + 1e-6
        keep = np.ones(len(data.device_ids), bool) if device_weights is None \
            else np.asarray(device_weights) > 0
        descriptors, offsets = self._descriptors(data)
        targets = data.log_ms - offsets[:, None]
        self.module_ = self._train(self.sequences_, descriptors[keep], targets[keep])
        return self

    def adapt(self, measured: Mapping[str, float], device: Device | None = None) -> DeviceModel:
        """The device model: the trained module with the device folded in as buffers."""
        import copy

        import torch

        if self.mode == "individual":
            names = [n for n in measured if n in set(self.network_names_)]
            if len(names) < 2:
                raise ModelError("individual mode needs latencies of at least 2 known networks")
            rows = [self.network_names_.index(n) for n in names]
            module = self._train(self.sequences_[rows], np.zeros((1, 0)),
                                 np.log([[measured[n] for n in names]]))
            vector, bias = np.zeros(0), 0.0
        elif self.mode == "combined":
            if device is None:
                raise ModelError("combined mode needs the device's hardware specs")
            specs = np.nan_to_num(device_specs([device], self.cpus_).astype(float))[0]
            module, vector, bias = self.module_, (specs - self.spec_mean_) / self.spec_std_, 0.0
        else:
            sig = _measured_vector(measured, self.signature_)
            module, bias = self.module_, float(sig.mean())
            vector = sig - bias
        module = copy.deepcopy(module)
        module.device_vector.copy_(torch.as_tensor(vector, dtype=torch.float32))
        module.bias_log_ms.add_(bias)
        names = tuple(f"l{i}_{n}" for i in range(self.max_layers) for n in SEQUENCE_NAMES)
        return DeviceModel(ExportableModel(
            SEQUENCE_SET, names, 0.0, (), module,
            metadata={"model": "lstm", "mode": self.mode, "max_layers": self.max_layers,
                      "hidden": self.hidden, "device_dim": int(len(vector))}))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if "module_" in state:  # the module class is local: keep its weights, as arrays
            module = state.pop("module_")
            state["module_state_"] = {k: v.detach().cpu().numpy()
                                      for k, v in module.state_dict().items()}
            state["module_dims_"] = (module.width, int(module.device_vector.numel()))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        weights, dims = state.pop("module_state_", None), state.pop("module_dims_", None)
        self.__dict__.update(state)
        if weights is not None:
            import torch

            module = _module_class()(int(dims[0]), int(dims[1]), self.hidden)
            module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.items()})
            self.module_ = module.eval()


def load_module(path: Any, metadata: Mapping[str, Any]) -> Any:
    """Rebuild a device's exported module from ``module.pt`` and its metadata."""
    import torch

    module = _module_class()(len(SEQUENCE_NAMES), int(metadata["device_dim"]),
                             int(metadata["hidden"]))
    module.load_state_dict(torch.load(path, weights_only=True))
    return module.eval()


def save_module(module: Any, path: Any) -> None:
    """Write a device's module weights (a torch state dict) to ``path``."""
    import torch

    torch.save(module.state_dict(), path)
