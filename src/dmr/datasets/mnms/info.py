"""The M&Ms information CSV: found at the root (or named by the option ``info``), read into one
row per subject with its vendor, centre, pathology and 0-based ED/ES indices.

The CSV is the only source of ED/ES and of the groups, and two releases (2020, 2021) differ in
columns and file name, so finding and validating it is an idea of its own."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dmr.errors import DatasetError

#: Name of the information CSV of the 2021 release (written by the phantom generator).
INFO_CSV = "211230_M&Ms_Dataset_information_diagnosis_opendataset.csv"
#: Columns every information CSV has (the 2020 and the 2021 release).
REQUIRED_COLUMNS: tuple[str, ...] = ("External code", "VendorName", "Vendor", "Centre", "ED", "ES")
PATHOLOGY_COLUMN = "Pathology"

#: The values of the reader option ``group`` (which CSV column a case's group comes from).
GROUP_KINDS: tuple[str, ...] = ("vendor", "centre", "pathology")
DEFAULT_GROUP = "vendor"


@dataclass(frozen=True)
class SubjectInfo:
    """One row of the information CSV; ``ed``/``es`` are the CSV's 0-based frame indices."""

    code: str
    vendor: str
    vendor_name: str
    centre: str
    ed: int
    es: int
    pathology: str | None

    def info(self) -> dict[str, str]:
        """The case's ``info`` mapping."""
        info = {"vendor": self.vendor, "vendor_name": self.vendor_name, "centre": self.centre}
        if self.pathology is not None:
            info["pathology"] = self.pathology
        return info

    def group(self, kind: str) -> str | None:
        """The case's group for the ``group`` option ``kind``."""
        return {"vendor": self.vendor, "centre": self.centre, "pathology": self.pathology}[kind]


def _csv_header(path: Path) -> list[str] | None:
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            return [cell.strip() for cell in next(csv.reader(stream), [])]
    except (OSError, UnicodeDecodeError, csv.Error):
        return None


def find_info_csv(root: Path, options: Mapping[str, Any]) -> Path:
    """The information CSV: option ``info`` (relative to the root), else the one root-level
    ``*.csv`` whose header has the required columns; DatasetError when none or several do."""
    if options.get("info"):
        path = Path(options["info"])
        path = path if path.is_absolute() else root / path
        if not path.is_file():
            raise DatasetError(f"{path}: M&Ms information CSV (reader option info) not found")
        return path
    candidates = sorted(p for p in root.glob("*.csv") if p.is_file())
    matching = [p for p in candidates if set(REQUIRED_COLUMNS) <= set(_csv_header(p) or ())]
    if len(matching) == 1:
        return matching[0]
    if not matching:
        found = ", ".join(p.name for p in candidates) or "no *.csv at all"
        raise DatasetError(
            f"{root}: no M&Ms information CSV with columns {list(REQUIRED_COLUMNS)} "
            f"(found: {found}); expected {INFO_CSV} or set the reader option info"
        )
    raise DatasetError(
        f"{root}: several M&Ms information CSVs: {', '.join(p.name for p in matching)}; "
        "choose one with the reader option info"
    )


def _frame_index(value: str, column: str, where: str, problems: list[str]) -> int | None:
    try:
        number = float(value)
    except ValueError:
        problems.append(f"{where}: {column} is not a number: {value!r}")
        return None
    if not number.is_integer() or number < 0:
        problems.append(f"{where}: {column} must be a 0-based frame index, got {value!r}")
        return None
    return int(number)


def read_info_csv(path: Path) -> tuple[dict[str, SubjectInfo], list[str], bool]:
    """Rows of the information CSV by subject code, every problem found, and whether it has a
    ``Pathology`` column. Other columns (the unnamed index, Age, ...) are ignored."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            table = list(csv.reader(stream))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return {}, [f"{path}: unreadable information CSV ({exc})"], False
    header = [cell.strip() for cell in table[0]] if table else []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        return {}, [f"{path}: information CSV lacks the column(s) {missing}"], False
    column = {
        name: header.index(name) for name in (*REQUIRED_COLUMNS, PATHOLOGY_COLUMN) if name in header
    }
    has_pathology = PATHOLOGY_COLUMN in column
    rows: dict[str, SubjectInfo] = {}
    problems: list[str] = []
    for line, cells in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) < len(header):
            problems.append(f"{path}: line {line} has {len(cells)} of {len(header)} columns")
            continue
        value = {name: cells[i].strip() for name, i in column.items()}
        code, where = value["External code"], f"{path}: line {line}"
        if not code:
            problems.append(f"{where}: empty External code")
            continue
        if code in rows:
            problems.append(f"{where}: subject {code} listed twice")
            continue
        ed = _frame_index(value["ED"], "ED", where, problems)
        es = _frame_index(value["ES"], "ES", where, problems)
        if ed is None or es is None:
            continue
        rows[code] = SubjectInfo(
            code=code,
            vendor=value["Vendor"],
            vendor_name=value["VendorName"],
            centre=value["Centre"],
            ed=ed,
            es=es,
            pathology=(value.get(PATHOLOGY_COLUMN) or None) if has_pathology else None,
        )
    return rows, problems, has_pathology


def load_info(root: Path, options: Mapping[str, Any]) -> tuple[Path, dict[str, SubjectInfo]]:
    """The information CSV's path and rows; DatasetError naming every problem of the file."""
    path = find_info_csv(root, options)
    rows, problems, has_pathology = read_info_csv(path)
    if options.get("group", DEFAULT_GROUP) == "pathology" and not has_pathology and not problems:
        problems.append(f"{path}: no {PATHOLOGY_COLUMN} column, needed by the option group")
    if problems:
        raise DatasetError("; ".join(problems))
    return path, rows
