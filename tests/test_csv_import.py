import pytest

from dnncost.csv_import import import_csv
from dnncost.errors import InputError
from dnncost.store import Store

from conftest import dump

LAYER_HEADER = ("network,index,op_type,in_h,in_w,out_h,out_w,cin,cout,kernel,stride,padding,"
                "groups,activation,macs,params\n")


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_import_with_layers_and_devices(tmp_path):
    runs = _write(tmp_path, "m.csv", "device,network,latency_ms,threads,precision\n"
                  "phoneA,netX,12.5,1,int8\nphoneA,netY,30,1,int8\nphoneB,netX,8.25,,\n")
    layers = _write(tmp_path, "l.csv", LAYER_HEADER +
                    "netX,0,conv,224,224,112,112,3,32,3,2,1,1,relu,10838016,896\n"
                    "netX,1,pool,112,112,1,1,32,32,,,,,,32,\n")
    devices = _write(tmp_path, "d.csv", "device,soc,ram_mb,max_freq_mhz,cpu\n"
                     "phoneA,sd855,6144,2840;2420,Kryo 485\n")
    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        summary = import_csv(store, runs, layers, devices)
        assert (summary.networks, summary.devices, summary.measurements) == (2, 2, 3)
        x = store.networks(["netX"])[0]
        assert x.macs == 10838016 and x.params == 896
        assert store.layers(x.id)[1].kernel is None
        a = {d.id: d for d in store.devices()}["phoneA"]
        assert (a.soc, a.ram_mb, a.max_freq_mhz, a.info) == (
            "sd855", 6144.0, (2840.0, 2420.0), {"cpu": "Kryo 485"})
        configs = sorted(str(m.config) for m in store.measurements())
        assert "{'precision': 'int8', 'source': 'csv', 'threads': 1}" in configs
        assert "{'source': 'csv'}" in configs
        before = dump(path)
        assert import_csv(store, runs, layers, devices).changed_rows == 0
    assert dump(path) == before


def test_bad_row_imports_nothing(tmp_path):
    path = tmp_path / "s.sqlite"
    good = _write(tmp_path, "good.csv", "device,network,latency_ms\nd1,n1,5\n")
    bad = _write(tmp_path, "bad.csv", "device,network,latency_ms\nd1,n2,5\nd1,n3,-1\n")
    with Store(path) as store:
        import_csv(store, good)
        before = dump(path)
        with pytest.raises(InputError, match=r"bad.csv:3: latency_ms must be a positive"):
            import_csv(store, bad)
    assert dump(path) == before


@pytest.mark.parametrize("text, message", [
    ("device,network\nd,n\n", "missing column"),
    ("device,network,latency_ms\nd,n,abc\n", r":2: column latency_ms: 'abc' is not a float"),
    ("device,network,latency_ms,threads\nd,n,1,two\n", r":2: column threads"),
    ("device,network,latency_ms\n,n,1\n", ":2: device and network must not be empty"),
])
def test_bad_measurement_files(tmp_path, text, message):
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(InputError, match=message):
            import_csv(store, _write(tmp_path, "m.csv", text))


def test_bad_layer_row_names_line(tmp_path):
    runs = _write(tmp_path, "m.csv", "device,network,latency_ms\nd,n,1\n")
    layers = _write(tmp_path, "l.csv", LAYER_HEADER + "n,0,warp,,,,,,,,,,,,,\n")
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(InputError, match=r"l.csv:2: need an index and an op_type"):
            import_csv(store, runs, layers)
        assert store.count("measurements") == 0


def test_existing_network_is_matched_by_name(iiswc_store_copy, tmp_path):
    runs = _write(tmp_path, "m.csv", "device,network,latency_ms\nnewphone,iiswc-017,21.5\n")
    with Store(iiswc_store_copy) as store:
        import_csv(store, runs)
        assert store.count("networks") == 118
        [m] = store.measurements("newphone")
        assert m.network_id == store.networks(["iiswc-017"])[0].id
