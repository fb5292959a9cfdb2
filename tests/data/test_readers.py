"""Every recording format and its variants read into one frame table; bad rows are named and skipped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support.recordings import donkey_v1, donkey_v2, plain_csv, sully, udacity, write_jpeg

from drivenet.config import DataConfig, load_config
from drivenet.data import COLUMNS, read_recordings
from drivenet.data.frames import OPTIONAL_COLUMNS
from drivenet.data.readers.finder import ImageFinder
from drivenet.errors import DrivenetError

STEERING = [0.0, -0.5, 0.25, 1.0]


def check_table(frames, n: int, optional: tuple[str, ...] = ()) -> None:
    assert list(frames.columns) == [*COLUMNS, *optional]
    assert len(frames) == n
    assert frames["steering"].dtype == np.float32
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in frames["path"])


@pytest.mark.parametrize("name_style", ["relative", "bare", "windows", "unix"])
def test_udacity_image_names_resolve_inside_the_recording(tmp_path: Path, name_style: str) -> None:
    rec = udacity(tmp_path / "rec", STEERING, header=None, name_style=name_style)
    result = read_recordings([rec])
    check_table(result.frames, 4, OPTIONAL_COLUMNS)
    assert result.problems == []
    np.testing.assert_allclose(result.frames["steering"], STEERING)
    assert Path(result.frames["path"][1]).parent == (rec / "IMG").resolve()


@pytest.mark.parametrize(
    ("header", "fields", "images"),
    [
        ("center,left,right,steering,throttle,brake,speed", 7, "IMG"),
        ("center image,left image,right image,steering angle,throttle,brake,speed", 7, "images"),
        ("center,left,right,angle,speed", 5, "IMG"),
        (None, 5, "images"),
    ],
)
def test_udacity_header_variants(tmp_path: Path, header: str | None, fields: int, images: str) -> None:
    rec = udacity(tmp_path / "rec", STEERING, header=header, fields=fields, images=images)
    frames = read_recordings([rec / "driving_log.csv"]).frames
    np.testing.assert_allclose(frames["steering"], STEERING)
    assert frames["frame"].tolist() == [0, 1, 2, 3]


def test_side_cameras_get_the_steering_correction(tmp_path: Path) -> None:
    rec = udacity(tmp_path / "rec", [0.0, 0.9])
    frames = read_recordings([rec], DataConfig(cameras="all", side_correction=0.2)).frames
    by = {(r.camera, r.frame): r.steering for r in frames.itertuples()}
    assert by[("left", 0)] == pytest.approx(0.2) and by[("right", 0)] == pytest.approx(-0.2)
    assert by[("left", 1)] == pytest.approx(1.0)  # clipped to the range
    assert "left" in Path(frames.loc[frames["camera"] == "left", "path"].iloc[0]).name


def test_missing_side_images_are_reported_and_the_rest_kept(tmp_path: Path) -> None:
    rec = udacity(tmp_path / "rec", STEERING, sides=False)
    result = read_recordings([rec], DataConfig(cameras="all"))
    assert len(result.frames) == 4 and set(result.frames["camera"]) == {"center"}
    assert len(result.problems) == 8
    assert {p.kind for p in result.problems} == {"missing image"}
    assert result.problems[0].row == 2 and "left_" in result.problems[0].reason
    with pytest.raises(DrivenetError, match=r"line 2: image .*left_"):
        read_recordings([rec], DataConfig(cameras="all"), strict=True)


def test_bad_steering_values_name_the_row(tmp_path: Path) -> None:
    rec = udacity(tmp_path / "rec", ["0.1", "nan", "abc", "1.5", "-0.2"])
    result = read_recordings([rec])
    np.testing.assert_allclose(result.frames["steering"], [0.1, -0.2])
    rows = [(p.row, p.kind) for p in result.problems]
    assert rows == [(3, "bad steering"), (4, "bad steering"), (5, "bad steering")]
    assert "'abc' is not a number" in str(result.problems[1])


def test_unknown_columns_are_an_error_naming_the_file(tmp_path: Path) -> None:
    rec = udacity(tmp_path / "rec", STEERING, header="camera,wheel,speed")
    with pytest.raises(DrivenetError, match=r"driving_log.csv, line 1: unknown columns 'camera,wheel,speed'"):
        read_recordings([rec])


def test_a_log_cannot_make_us_read_outside_the_recording(tmp_path: Path) -> None:
    secret = write_jpeg(tmp_path / "secret.jpg")
    rec = tmp_path / "rec"
    inside = [write_jpeg(rec / "IMG" / "a.jpg"), write_jpeg(rec / "other" / "b.jpg")]
    log = f"../secret.jpg,,,0.1\n{secret},,,0.2\nIMG/a.jpg,,,0.3\n{inside[1].resolve()},,,0.4\n"
    (rec / "driving_log.csv").write_text(log)
    result = read_recordings([rec])
    assert result.frames["path"].tolist() == [str(p.resolve()) for p in inside]
    assert [p.row for p in result.problems] == [1, 2]
    assert ImageFinder(rec).find("sub/../../secret.jpg") is None


def test_donkey_v2_honours_deleted_indexes(tmp_path: Path) -> None:
    tub = donkey_v2(tmp_path / "tub", [0.0, -1.0, 0.5, 0.25, -0.25], deleted=[2])
    result = read_recordings([tub])
    check_table(result.frames, 4, ("throttle",))
    assert result.frames["frame"].tolist() == [0, 1, 3, 4]
    np.testing.assert_allclose(result.frames["steering"], [0.0, -1.0, 0.25, -0.25])
    assert result.problems == []


def test_donkey_broken_catalog_line_is_named_and_skipped(tmp_path: Path) -> None:
    tub = donkey_v2(tmp_path / "tub", [0.0, 0.1, 0.2, 0.3], broken_line=2)
    result = read_recordings([tub / "manifest.json"])
    assert result.frames["frame"].tolist() == [0, 2, 3]
    (problem,) = result.problems
    assert problem.file.endswith("catalog_0.catalog") and problem.row == 2
    assert "broken catalog line" in str(problem)
    with pytest.raises(DrivenetError, match=r"catalog_0.catalog, line 2"):
        read_recordings([tub], strict=True)


def test_donkey_v1_records(tmp_path: Path) -> None:
    tub = donkey_v1(tmp_path / "tub", [0.1 * i for i in range(11)])
    frames = read_recordings([tub]).frames
    check_table(frames, 11, ("throttle",))
    assert frames["frame"].tolist() == list(range(11))  # record_10 after record_9
    np.testing.assert_allclose(frames["steering"], [0.1 * i for i in range(11)], atol=1e-6)


@pytest.mark.parametrize("timestamps", [False, True])
def test_sully_degrees_are_scaled_and_clipped(tmp_path: Path, timestamps: bool) -> None:
    rec = sully(tmp_path / "dash", [0.0, 45.0, -90.0, 900.0], timestamps=timestamps)
    frames = read_recordings([rec], DataConfig(wheel_degrees_per_unit=450.0)).frames
    np.testing.assert_allclose(frames["steering"], [0.0, 0.1, -0.2, 1.0], atol=1e-6)
    sully_90 = DataConfig(format="sully", wheel_degrees_per_unit=90.0)
    frames = read_recordings([rec / "data.txt"], sully_90).frames
    np.testing.assert_allclose(frames["steering"], [0.0, 0.5, -1.0, 1.0], atol=1e-6)


def test_plain_csv_with_configured_columns(tmp_path: Path) -> None:
    log = plain_csv(tmp_path / "rec", [0.3, -0.3])
    frames = read_recordings([log], DataConfig(csv_image_column="file", csv_steering_column="angle")).frames
    check_table(frames, 2, ("speed",))
    np.testing.assert_allclose(frames["steering"], [0.3, -0.3])
    with pytest.raises(DrivenetError, match=r"labels.csv, line 1: unknown columns 'time,file,speed,angle'"):
        read_recordings([log], DataConfig(format="csv"))


def test_a_folder_of_recordings_is_combined(tmp_path: Path) -> None:
    udacity(tmp_path / "all" / "sim", STEERING)
    donkey_v2(tmp_path / "all" / "tub", [0.1, 0.2])
    sully(tmp_path / "all" / "dash", [0.0])
    frames = read_recordings([tmp_path / "all"]).frames
    assert frames.groupby("recording").size().to_dict() == {"dash": 1, "sim": 4, "tub": 2}
    donkey_v2(tmp_path / "other" / "tub", [0.3])
    same_name = read_recordings([tmp_path / "all" / "tub", tmp_path / "other" / "tub"]).frames
    assert sorted(same_name["recording"].unique()) == ["tub", "tub#2"]


def test_empty_or_unknown_inputs_are_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DrivenetError, match=r"empty: no recording found"):
        read_recordings([tmp_path / "empty"])
    with pytest.raises(DrivenetError, match=r"no such file or folder"):
        read_recordings([tmp_path / "nowhere"])
    with pytest.raises(DrivenetError, match=r"data.format = \"tubs\": must be one of auto, udacity"):
        load_config(None, ["data.format=tubs"])  # the config's rule, before any reader runs
    bad_manifest = tmp_path / "tub"
    bad_manifest.mkdir()
    (bad_manifest / "manifest.json").write_text(json.dumps({"paths": []})[:5])
    with pytest.raises(DrivenetError, match=r"manifest.json, line 1: not valid JSON"):
        read_recordings([bad_manifest])


def test_frame_numbers_keep_the_gaps_of_skipped_rows(tmp_path: Path) -> None:
    rec = udacity(tmp_path / "rec", ["0.1", "bad", "0.3"], sides=False)
    assert read_recordings([rec]).frames["frame"].tolist() == [0, 2]
    dash = sully(tmp_path / "dash", [1.0, "x", 2.0])
    assert read_recordings([dash]).frames["frame"].tolist() == [0, 2]


def test_sully_problems_quote_the_angle_without_its_line_end(tmp_path: Path) -> None:
    dash = sully(tmp_path / "dash", [1.0, "nan"])
    problems = read_recordings([dash]).problems
    assert [p.reason for p in problems] == ["steering 'nan' is not a finite number"]


def test_readers_share_one_image_suffix_list() -> None:
    from drivenet.data.readers import IMAGE_SUFFIXES
    from drivenet.data.readers.finder import is_image_name

    assert all(is_image_name(f"x{suffix.upper()}") for suffix in IMAGE_SUFFIXES)


def test_throttle_brake_and_speed_come_through_when_logged(tmp_path: Path) -> None:
    rec = tmp_path / "all" / "sim"
    rows = ["center,left,right,steering,throttle,brake,speed"]
    for i, pedals in enumerate(["0.5,0,20.5", "nan,0,21", "0,0.25,19", "0,abc,18"]):
        write_jpeg(rec / "IMG" / f"c{i}.jpg")
        rows.append(f"IMG/c{i}.jpg,,,0.1,{pedals}")
    (rec / "driving_log.csv").write_text("\n".join(rows) + "\n")
    result = read_recordings([rec])
    check_table(result.frames, 4, OPTIONAL_COLUMNS)  # a bad pedal value does not cost the frame its steering
    assert all(result.frames[c].dtype == np.float32 for c in OPTIONAL_COLUMNS)
    pedals = [[0.5, 0, 20.5], [np.nan, 0, 21], [0, 0.25, 19], [0, np.nan, 18]]
    np.testing.assert_allclose(result.frames[["throttle", "brake", "speed"]], pedals)
    assert result.problems == []

    sully(tmp_path / "all" / "dash", [0.0, 45.0])  # logs no pedals: NaN in its rows of a combined table
    frames = read_recordings([tmp_path / "all"]).frames
    check_table(frames, 6, OPTIONAL_COLUMNS)
    dash = frames["recording"] == "dash"
    assert frames.loc[dash, list(OPTIONAL_COLUMNS)].isna().all().all()
    assert int(frames.loc[~dash, list(OPTIONAL_COLUMNS)].isna().sum().sum()) == 2  # the nan and the abc

    plain = tmp_path / "plain"  # a recording whose log has none of them gives a table without the columns
    write_jpeg(plain / "a.png")
    (plain / "labels.csv").write_text("image,steering\na.png,0.2\n")
    check_table(read_recordings([plain, tmp_path / "all" / "dash"]).frames, 3)
