"""The tests valgus-cam scores, as one enum: :class:`TestKind`.

A clip is scored as one of four tests. ``TestKind`` is a :class:`enum.StrEnum` whose values are
the words reps.json (``"test"``), summary.csv and the pages have always written
(``"double_leg_squat"``, ``"single_leg_squat"``, ``"standing"``, ``"landing"``): a ``TestKind``
*is* that string wherever it is written, compared or looked up, so the files do not change.

The command line and :func:`valgus_cam.analyze` ask for a test with their own words (``--test``:
``"auto"``, ``"squat"``, ``"single-leg"``, ``"standing"``, ``"landing"``):
:meth:`TestKind.requested` turns them into a kind (None for ``"auto"``: a squat, double- or
single-leg as most reps are, ``verdicts.detect_test``).

No imports from the package: every module may use it.
"""

from __future__ import annotations

from enum import StrEnum

AUTO = "auto"  # the --test word that lets the reps decide between the two squats


class TestKind(StrEnum):
    """What a clip was scored as, and what each part of the program asks of it."""

    __test__ = False  # not a pytest test class despite the name

    DOUBLE_LEG_SQUAT = "double_leg_squat"
    SINGLE_LEG_SQUAT = "single_leg_squat"
    STANDING = "standing"  # standing alignment: one still hold (``valgus_cam.standing``)
    LANDING = "landing"  # jump landings (``valgus_cam.landing``)

    @property
    def is_squat(self) -> bool:
        """Squat reps (``verdicts.RepResult``, ``ClipAnalysis.results``), double- or single-leg."""
        return self in (TestKind.DOUBLE_LEG_SQUAT, TestKind.SINGLE_LEG_SQUAT)

    @property
    def single_leg(self) -> bool:
        return self is TestKind.SINGLE_LEG_SQUAT

    @property
    def arg(self) -> str:
        """The word ``--test`` (and ``analyze(test=...)``) asks for it with."""
        return _ARGS[self]

    @property
    def words(self) -> str:
        """Its name for the user: "double-leg squat", "standing alignment", …"""
        return _WORDS[self]

    @property
    def page(self) -> str:
        """Which report page (template) it gets: "squat" (both squats), "standing" or "landing"."""
        return "squat" if self.is_squat else self.value

    @property
    def unit(self) -> str:
        """What one of its records is called, as reps.json's ``"kind"``: "rep", "hold" or "landing"."""
        return _UNITS[self]

    def knee_limit_deg(self, thresholds) -> float:
        """Its knee-angle (FPPA) limit from ``thresholds`` (:class:`verdicts.Thresholds`): the
        landing check has its own."""
        return thresholds.landing_limit_deg if self is TestKind.LANDING else thresholds.knee_limit_deg

    @classmethod
    def requested(cls, test: str) -> "TestKind | None":
        """The kind a ``--test`` word asks for; None for "auto". An unknown word is an
        :class:`~valgus_cam.errors.InputError` naming the known ones."""
        if test == AUTO:
            return None
        kind = _BY_ARG.get(test)
        if kind is None:
            from .errors import InputError

            raise InputError(f"unknown test {test!r} (known: {', '.join(TEST_ARGS)})")
        return kind


_ARGS = {TestKind.DOUBLE_LEG_SQUAT: "squat", TestKind.SINGLE_LEG_SQUAT: "single-leg",
         TestKind.STANDING: "standing", TestKind.LANDING: "landing"}
_BY_ARG = {arg: kind for kind, arg in _ARGS.items()}
_WORDS = {TestKind.DOUBLE_LEG_SQUAT: "double-leg squat", TestKind.SINGLE_LEG_SQUAT: "single-leg squat",
          TestKind.STANDING: "standing alignment", TestKind.LANDING: "jump landing"}
_UNITS = {TestKind.DOUBLE_LEG_SQUAT: "rep", TestKind.SINGLE_LEG_SQUAT: "rep", TestKind.STANDING: "hold",
          TestKind.LANDING: "landing"}

# the --test choices: every test (analyze), the squats only (batch, live)
TEST_ARGS = (AUTO, *(k.arg for k in TestKind))
SQUAT_TEST_ARGS = (AUTO, *(k.arg for k in TestKind if k.is_squat))
