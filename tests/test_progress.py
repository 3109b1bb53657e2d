"""mip6fast.progress: bars only on a terminal and never with --json; a task is a no-op when off; lines
printed during a bar land above it; the long runs ask for bars (simulate scale moves one a virtual second
at a time and gives the same summary)."""
import io

from mip6fast import progress
from mip6fast.cli import main
from mip6fast.scenarios import run_scenario


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_wanted_only_on_a_terminal_without_json():
    assert progress.wanted(False, Terminal())
    assert not progress.wanted(True, Terminal())
    assert not progress.wanted(False, io.StringIO())


def test_off_a_task_draws_nothing():
    err = Terminal()
    with progress.task("x", total=3, file=err) as bar:
        assert not bar.active
        bar.update(1)
        bar.to(3)
        bar.describe("y")
    assert err.getvalue() == ""
    assert not progress.active()


def test_on_a_bar_is_drawn_and_lines_go_above_it():
    err, out = Terminal(), Terminal()
    with progress.showing(True), progress.task("counting", total=4, unit=" step", file=err) as bar:
        assert bar.active and progress.active()
        bar.update(2)
        progress.write("a line", out)
        bar.to(4)
        assert bar._bar.n == 4
    assert "counting" in err.getvalue()         # drawn (tqdm redraws at most every 0.1 s)
    assert out.getvalue() == "a line\n"
    assert not progress.active()
    with progress.task("after", total=1, file=err) as bar:      # showing() is scoped to its block
        assert not bar.active


def test_simulate_scale_with_a_bar_gives_the_same_summary(capsys):
    drop = ("wall_s", "run_wall_s", "build_wall_s", "cpu_s", "rate", "memory", "rss")
    plain = run_scenario("scale", seed=3, n=50, lifetime=8, arrival_s=1)
    with progress.showing(True):
        shown = run_scenario("scale", seed=3, n=50, lifetime=8, arrival_s=1)
    assert "simulate scale" in capsys.readouterr().err
    def same(summary):
        return {k: v for k, v in summary.items() if not any(d in k for d in drop)}
    assert same(plain) == same(shown)


def test_the_command_line_keeps_json_and_pipes_clean(capsys):
    assert main(["simulate", "scale", "--json", "--param", "n=20", "--param", "lifetime=8",
                 "--param", "arrival_s=1"]) == 0
    captured = capsys.readouterr()
    assert "simulate scale" not in captured.err and captured.out.startswith("{")
