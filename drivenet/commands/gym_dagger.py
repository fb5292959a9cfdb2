"""Commands `gym dagger` (behavioural cloning, then DAgger rounds) and `gym learn` (those rounds, the best
one chosen, then scored on test seeds), over one resumable run folder (drivenet/drive/gym/dagger.py)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from drivenet.commands.gym import EnvArgOpt, EnvOpt, env_kwargs
from drivenet.errors import cli_errors

EXIT_INTERRUPTED = 130  # the shell's code for a run stopped by Ctrl-C

OutOpt = Annotated[
    Path, typer.Option("--out", "-o", help="Run folder; run the same command again to resume it.")
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML config; default: configs/carracing.toml of drivenet's clone."),
]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", help="Override a config value: section.key=value (repeatable).")
]
JobsOpt = Annotated[int, typer.Option("--jobs", help="Worker processes that drive and record episodes.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Delete the run folder OUT first and start over.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]


def gym_dagger(
    out: OutOpt,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    jobs: JobsOpt = 2,
    force: ForceOpt = False,
    quiet: QuietOpt = False,
    env: EnvOpt = "CarRacing-v3",
    env_arg: EnvArgOpt = [],  # noqa: B006 - typer reads the default, it is never mutated
) -> None:
    """Behavioural cloning on the expert's episodes (with DART steering noise), then DAgger rounds: the
    last model drives, the expert acting at a decaying rate, every frame labelled by the expert, and a
    model is trained on all the data; a table of each round's reward on the choosing seeds. Resumable:
    the same command again continues where it stopped."""
    from drivenet.drive.gym.dagger import choosing_table, dagger_config, run_dagger

    started = time.perf_counter()
    cfg = dagger_config(config, set_ or [])
    with interruptible():
        _, scores, expert = run_dagger(
            out, cfg, env_settings(env, env_arg), jobs=jobs, force=force, say=typer.echo, show=not quiet
        )
    typer.echo(table_text(choosing_table(scores, expert, cfg.dagger)))
    typer.echo(f"wall time {time.perf_counter() - started:.1f} s")


def gym_learn(
    out: OutOpt,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    jobs: JobsOpt = 2,
    force: ForceOpt = False,
    quiet: QuietOpt = False,
    env: EnvOpt = "CarRacing-v3",
    env_arg: EnvArgOpt = [],  # noqa: B006 - typer reads the default, it is never mutated
) -> None:
    """The whole recipe in one resumable run folder: `gym dagger`'s rounds, the round with the best mean
    reward on the choosing seeds, then that model and the expert on the test seeds, which no training and
    no choice has seen (report.json)."""
    from drivenet.drive.gym.dagger import dagger_config, learn

    started = time.perf_counter()
    cfg = dagger_config(config, set_ or [])
    with interruptible():
        report = learn(
            out, cfg, env_settings(env, env_arg), jobs=jobs, force=force, say=typer.echo, show=not quiet
        )
    typer.echo(table_text(report))
    typer.echo(test_line(report))
    typer.echo(f"report {Path(out) / 'report.json'}; wall time {time.perf_counter() - started:.1f} s")


def env_settings(env: str, pairs: list[str]) -> dict[str, Any]:
    """The env a run drives, as its run folder keeps it."""
    return {"env": env, "env_kwargs": env_kwargs(pairs)}


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Turn a Ctrl-C into the message that the same command continues the run, and exit code 130."""
    try:
        yield
    except KeyboardInterrupt:
        typer.echo("interrupted; run the same command again to continue where it stopped", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None


def table_text(table: Mapping[str, Any]) -> str:
    """The rounds' reward on the choosing seeds (`choosing_table`), one line each (* the chosen round),
    then the expert's."""
    expert = table["choose_expert"]
    lines = [
        f"choosing seeds {table['choose_seeds']}:",
        f"{'round':>5} {'beta':>5} {'frames':>8} {'reward':>17} {'min':>7} {'% expert':>8}",
    ]
    for row in table["rounds"]:
        beta = "bc" if row["beta"] is None else f"{row['beta']:.3g}"
        share = "-" if row["percent_of_expert"] is None else f"{row['percent_of_expert']:.1f}%"
        lines.append(
            f"{row['round']:5d} {beta:>5} {row['frames']:8d} {row['mean']:8.1f} ± {row['sd']:6.1f} "
            f"{row['min']:7.1f} {share:>8}" + ("  *" if row["chosen"] else "")
        )
    lines.append(f"expert: {expert['mean']:.1f} ± {expert['sd']:.1f} (min {expert['min']:.1f})")
    return "\n".join(lines)


def test_line(report: Mapping[str, Any]) -> str:
    """'test seeds 0-99: model 812.3 ± 54.1 (min 700.2, max 880.0), expert 921.6 ± 6.5, 88.1% of expert,
    laps 90/100 (expert 100/100)'."""
    test = report["test"]
    model, expert, share = test["summary"], test["expert"], test["percent_of_expert"]
    return (
        f"test seeds {report['test_seeds']}: round {report['chosen_round']}'s model {model['mean']:.1f} ± "
        f"{model['sd']:.1f} (min {model['min']:.1f}, max {model['max']:.1f}), expert {expert['mean']:.1f} ± "
        f"{expert['sd']:.1f}, {'-' if share is None else f'{share:.1f}%'} of expert, laps "
        f"{model['laps']}/{model['episodes']} (expert {expert['laps']}/{expert['episodes']})"
    )


def register(group: typer.Typer) -> None:
    """Add `dagger` and `learn` to the `gym` group."""
    group.command("dagger")(cli_errors(gym_dagger))
    group.command("learn")(cli_errors(gym_learn))
