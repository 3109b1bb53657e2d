"""mip6fast.plot: `demo --plot` and `bench --plot` draw PNGs from given data (skipped without matplotlib,
which the test extra installs); without matplotlib --plot fails at once with the install line."""
import struct

import pytest

from mip6fast import plot
from mip6fast.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

BENCH = {"benchmark": "signalling", "environment": {"python": "3.11.7", "cpus": 2},
         "results": [{"name": "bu_ba_unprotected", "value": 13500.0, "unit": "exchanges/s"},
                     {"name": "bu_ba_esp_aes-128-gcm", "value": 9900.0, "unit": "exchanges/s", "baseline": 13500.0,
                      "ratio": 0.73, "goal": "ratio >= 0.7 (ESP costs at most 30%)"}]}
FORWARD = {"benchmark": "forward", "environment": {},
           "results": [{"name": f"forward_{s}B", "value": 0.4, "unit": "Mpps", "vs_reflector": 0.41,
                        "vs_python": 9.5} for s in (64, 512, 1500)]}
DEMO = {"handovers": [
    {"to": "b", "gap_ms": 310.2, "packets_lost": 2, "packets_sent": 200, "at_s": 12.1, "route_optimisation": True},
    {"to": "a", "gap_ms": 250.0, "packets_lost": 1, "packets_sent": 200, "at_s": 16.2, "route_optimisation": True},
    {"to": "home", "gap_ms": None, "packets_lost": 0, "packets_sent": 200, "at_s": 20.3,
     "route_optimisation": True},
    {"to": "b", "gap_ms": 420.5, "packets_lost": 3, "packets_sent": 200, "at_s": 40.0, "route_optimisation": False}]}


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    return struct.unpack(">II", data[16:24])


def test_the_data_behind_the_pictures():
    assert plot.bench_ratios(BENCH) == [("bu_ba_esp_aes-128-gcm", "vs baseline", 0.73)]
    assert [s for _, s, _ in plot.bench_ratios(FORWARD)][:2] == ["vs Python forwarder", "vs kernel-bypass reflector"]
    points = plot.handover_gaps(DEMO)
    assert [(p["at_s"], p["gap_ms"], p["route_optimisation"]) for p in points] == [
        (12.1, 310.2, True), (16.2, 250.0, True), (40.0, 420.5, False)]      # no gap: not drawn


needs_matplotlib = pytest.mark.skipif(not plot.HAVE_MATPLOTLIB, reason="matplotlib (the plot extra) is not installed")


@needs_matplotlib
@pytest.mark.parametrize("report", [BENCH, FORWARD], ids=["signalling", "forward"])
def test_bench_plot_is_a_png(tmp_path, report):
    path = tmp_path / "bench.png"
    plot.plot_bench(report, str(path))
    width, height = png_size(path)
    assert width >= 400 and height >= 300


@needs_matplotlib
def test_demo_plot_is_a_png(tmp_path):
    path = tmp_path / "demo.png"
    plot.plot_handovers(DEMO, str(path))
    assert png_size(path) == (700, 360)


@needs_matplotlib
def test_nothing_to_draw_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no ratios"):
        plot.plot_bench({"benchmark": "x", "results": [{"name": "a", "value": 1, "unit": "u"}]},
                        str(tmp_path / "x.png"))
    with pytest.raises(ValueError, match="no handover"):
        plot.plot_handovers({"handovers": []}, str(tmp_path / "x.png"))


@needs_matplotlib
@pytest.mark.compiled("mh", "packet")  # bench wire measures the compiled codecs against the twins
def test_bench_command_writes_the_plot(tmp_path, capsys):
    path = tmp_path / "wire.png"
    assert main(["bench", "wire", "--quick", "--json", "--plot", str(path)]) == 0
    assert png_size(path)[0] > 0 and "plot written" in capsys.readouterr().err


def test_without_matplotlib_plot_fails_before_the_run(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(plot, "HAVE_MATPLOTLIB", False)
    assert main(["bench", "wire", "--quick", "--plot", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr()
    assert "pip install 'mip6fast[plot]'" in err.err and err.out == ""     # nothing was measured
    with pytest.raises(plot.PlotUnavailable):
        plot.plot_handovers(DEMO, str(tmp_path / "x.png"))
