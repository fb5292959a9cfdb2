"""The simulator's driver without a network: replies, bad telemetry, throttle, recording, missing extra."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.simulator import jpeg_bytes, telemetry
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.config import DataConfig
from drivenet.data.readers import read_recordings
from drivenet.drive.udacity import server
from drivenet.drive.udacity.pilot import Pilot
from drivenet.drive.udacity.recorder import Recorder
from drivenet.drive.udacity.status import ServeStats, StatusLine
from drivenet.drive.udacity.telemetry import read_telemetry
from drivenet.drive.udacity.throttle import SpeedController
from drivenet.errors import DrivenetError
from drivenet.model.checkpoint import load_model

runner = CliRunner()


def pilot_for(path, record=None, set_mph=20.0):
    """A pilot on a fake clock that advances 0.05 s a call, printing into a string buffer."""
    ticks = iter(np.arange(0.0, 1e4, 0.05))
    stream = io.StringIO()
    pilot = Pilot(load_model(path), set_mph, StatusLine(stream), record, lambda: float(next(ticks)))
    return pilot, stream


def sent_steering(reply) -> float:
    assert reply.event == "steer" and set(reply.data) == {"steering_angle", "throttle"}
    assert all(isinstance(v, str) for v in reply.data.values())
    return float(reply.data["steering_angle"])


def rgb(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


@pytest.mark.parametrize("kind", ["single", "motion"])
def test_each_frame_is_steered_as_the_model_steers_the_sequence_and_reconnecting_starts_afresh(models, kind):
    pilot, _ = pilot_for(models[kind])
    model = pilot.model
    frames = [rgb(p) for p in models["frames"]]
    assert pilot.connect().data == {"steering_angle": "0.0", "throttle": "0.0"}
    sent = [sent_steering(pilot.telemetry(telemetry(p.read_bytes()))) for p in models["frames"]]
    np.testing.assert_allclose(sent, model.steer_frames(frames), rtol=0, atol=1e-6)
    pilot.connect()
    again = sent_steering(pilot.telemetry(telemetry(models["frames"][-1].read_bytes())))
    assert again == pytest.approx(float(model.steer_frames(frames[-1:])[0]), abs=1e-6)
    if kind == "motion":  # its earlier frames matter: alone, the last frame steers otherwise
        assert again != pytest.approx(sent[-1], abs=1e-4)


def test_empty_telemetry_means_manual_driving(models):
    pilot, _ = pilot_for(models["single"])
    pilot.connect()
    assert pilot.telemetry({}).event == "manual" and pilot.telemetry(None).data == {}
    assert pilot.stats.manual == 2 and pilot.stats.frames == 0


BAD = {
    "image is not base64": {"image": "not base64 at all!"},
    "image is not a picture": {"image": base64.b64encode(b"GIF89a but not really").decode()},
    "no image": {"image": None},
    "speed is not a number": {"speed": "fast"},
    "no speed": {"speed": None},
    "throttle is not a number": {"throttle": "nan"},
    "steering_angle is not a number": {"steering_angle": [1, 2]},
}


@pytest.mark.parametrize("problem", BAD)
def test_bad_telemetry_is_answered_shown_once_and_counted(models, problem):
    pilot, stream = pilot_for(models["single"])
    good = telemetry(models["frames"][0].read_bytes())
    pilot.connect()
    first = pilot.telemetry(good)
    message = {k: v for k, v in {**good, **BAD[problem]}.items() if v is not None}
    replies = [pilot.telemetry(message) for _ in range(3)]
    for reply in replies:
        sent_steering(reply)
    if "image" in BAD[problem]:  # nothing to steer on: hold the last steering, coast
        assert all(r.data == {**first.data, "throttle": "0.0"} for r in replies)
    elif "speed" in BAD[problem]:
        assert all(r.data["throttle"] == "0.0" for r in replies)
    assert pilot.stats.problems == {problem: 3}
    assert stream.getvalue().count(problem) == 1
    assert f"{problem} x3" in pilot.summary()
    assert pilot.telemetry(good).data["throttle"] != "0.0"  # and it goes on driving


def test_telemetry_that_is_not_an_object_is_answered():
    for data in ("image", [1], 3):
        assert read_telemetry(data).problems == ("telemetry is not an object",)
    numbers = read_telemetry({"steering_angle": -2, "throttle": "1e999", "speed": True, "image": ""})
    assert numbers.steering_angle == -2.0 and numbers.throttle is None and numbers.speed is None
    assert numbers.problems[-1] == "image is not a picture"


def test_a_frame_over_the_decompression_bomb_limit_is_refused_undecoded(models, monkeypatch):
    pilot, _ = pilot_for(models["single"])
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 320 * 160 // 2)  # between 1x and 2x: a warning only
    pilot.connect()
    assert pilot.telemetry(telemetry(models["frames"][0].read_bytes())).data["throttle"] == "0.0"
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # over 2x: Pillow's own error
    pilot.telemetry(telemetry(models["frames"][0].read_bytes()))
    assert pilot.stats.problems == {"image has too many pixels": 2}


def test_a_frame_of_another_size_is_resized_and_noted(models):
    pilot, stream = pilot_for(models["single"])
    small = jpeg_bytes(np.full((7, 9, 3), 128, np.uint8))
    pilot.connect()
    sent_steering(pilot.telemetry(telemetry(small)))
    sent_steering(pilot.telemetry(telemetry(small)))
    assert stream.getvalue().count("trained on 48x36 frames, the simulator sends 9x7") == 1


def test_the_throttle_holds_the_speed_and_eases_off_in_turns():
    control = SpeedController(20.0)
    assert control.throttle(0.0, 0.0, 0.1) == 1.0  # standing start: full throttle
    assert control.throttle(28.0, 0.0, 0.1) < 0  # too fast: brake
    assert control.target(1.0) < control.target(0.3) < control.target(0.0) == 20.0
    assert SpeedController(20.0).throttle(15.0, 0.9, 0.1) < SpeedController(20.0).throttle(15.0, 0.0, 0.1)
    steady = SpeedController(20.0)
    for _ in range(2000):  # a long climb that full throttle cannot win
        steady.throttle(5.0, 0.0, 0.1)
    assert steady.throttle(20.5, 0.0, 0.1) < 0.5  # no wound-up integral pushing on past the target
    speed, car = 0.0, SpeedController(20.0)
    for _ in range(600):  # a car whose speed follows throttle with drag: settles near the target
        speed += (car.throttle(speed, 0.0, 0.05) * 8.0 - 0.2 * speed) * 0.05
    assert speed == pytest.approx(20.0, abs=0.5)


def test_the_recording_reads_back_with_the_steering_that_was_sent(models, tmp_path):
    with Recorder(tmp_path / "rec") as recorder:
        pilot, _ = pilot_for(models["single"], recorder)
        pilot.connect()
        sent = [pilot.telemetry(telemetry(p.read_bytes(), speed=i)) for i, p in enumerate(models["frames"])]
        pilot.telemetry({"image": "broken"})  # not recorded
    frames = read_recordings([tmp_path / "rec"], DataConfig(format="udacity"), strict=True).frames
    assert list(frames["steering"]) == [float(r.data["steering_angle"]) for r in sent]
    for path, source in zip(frames["path"], models["frames"], strict=True):
        assert Path(path).read_bytes() == source.read_bytes()  # the very bytes the model read
    assert "recorded 6 frames" in pilot.summary()
    with pytest.raises(DrivenetError, match="--force"):
        Recorder(tmp_path / "rec")


def test_without_the_extra_serve_says_what_to_install(models, monkeypatch):
    monkeypatch.setattr(server, "installed_version", lambda name: None)
    result = runner.invoke(app, ["serve", str(models["single"])])
    assert result.exit_code == 1
    missing = "error: drivenet serve needs the simulator extra (python-socketio is missing)"
    assert result.output.strip().splitlines() == [f'{missing}: pip install -e ".[sim]"']
    monkeypatch.setattr(server, "installed_version", lambda name: "5.11.0")
    result = runner.invoke(app, ["serve", str(models["single"])])
    assert result.exit_code == 1 and "python-socketio 5.11.0 cannot talk to the simulator" in result.output


@pytest.mark.parametrize(
    ("args", "message"), [(["--port", "0"], "--port 0"), (["--speed", "nan"], "--speed nan")]
)
def test_serve_refuses_meaningless_settings(models, monkeypatch, args, message):
    monkeypatch.setattr(
        server, "installed_version", lambda name: {"python-engineio": "3.13.2"}.get(name, "4.6.1")
    )
    result = runner.invoke(app, ["serve", str(models["single"]), *args])
    assert result.exit_code == 1 and message in result.output


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_status_line_is_rewritten_in_place_on_a_terminal_and_logged_elsewhere():
    stats = ServeStats(started=0.0)
    for k in range(11):
        stats.served(now=k * 0.05, latency=0.002, steering=-0.25, throttle=0.5, speed=19.0)
    assert stats.fps == pytest.approx(20.0)
    assert stats.line().startswith("11 frames  20.0 fps  2.0 ms/frame  steering -0.250")
    terminal, log = Terminal(), io.StringIO()
    for stream in (terminal, log):
        status = StatusLine(stream, interval_s=0.25, log_interval_s=10.0)
        for now in (0.0, 0.1, 0.3, 5.0, 10.5):
            status.show(f"t={now}", now)
    assert terminal.getvalue() == "\rt=0.0\rt=0.3\rt=5.0\rt=10.5"
    assert log.getvalue() == "t=0.0\nt=10.5\n"
