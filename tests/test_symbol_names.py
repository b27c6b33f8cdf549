"""How symbols and LaTeX names carry channel indices (issue 14: mutation survivors)."""

from __future__ import annotations

from symcnn.core.symbols import with_channels


def test_channel_indices_join_the_superscript() -> None:
    """How a layer's LaTeX names take channel indices (written by hand)."""
    assert with_channels("a", "2") == "a^{(2)}"
    assert with_channels("z^{(0)}", "1,2") == "z^{(0)(1,2)}"
    assert with_channels(r"\delta^{(3)}", "o") == r"\delta^{(3)(o)}"
    assert with_channels("x^{T}", "c") == "{x^{T}}^{(c)}"
    assert with_channels("w)}", "c") == "w)}^{(c)}"


def test_a_name_used_by_two_tensors_is_refused_not_shadowed() -> None:
    """Two grids whose entries print alike would make one tensor's symbols the other's: the
    derivation would be silently wrong. The table refuses them, naming the first clash."""
    import pytest

    from symcnn.core.symbols import Grid, Role, SymbolTable

    a = Grid("a", Role.INPUT, (2,), (False,))
    with pytest.raises(ValueError, match=r"^symbol name a_1 used twice$"):
        SymbolTable([a, Grid("a", Role.OUTPUT, (3,), (False,))])
    with pytest.raises(ValueError, match=r"^symbol name b_2 used twice$"):
        SymbolTable([a, Grid("b", Role.OUTPUT, (3,), (False,)), Grid("b_2", Role.DELTA, (), ())])
    table = SymbolTable([a, Grid("b", Role.OUTPUT, (3,), (False,))])
    assert table.info("b_3").index == (2,) and table.info("a_1").grid is a
    with pytest.raises(KeyError, match="c_1"):
        table.info("c_1")
    assert table.get("c_1") is None


def test_a_grids_latex_and_text_names_default_to_its_name() -> None:
    from symcnn.core.symbols import Grid, Role

    g = Grid("w", Role.WEIGHT, (2,), (False,))
    assert (g.latex, g.text) == ("w", "w")
    assert Grid("w", Role.WEIGHT, (2,), (False,), latex=r"\omega").latex == r"\omega"


def test_indices_run_together_unless_a_shown_index_reaches_ten() -> None:
    """``a_12`` is row 1, column 2; once a written index reaches 10 they are separated
    (``w_12_2_2``: channel 12). A sample number of 10 or more does not count (it is written
    ``n10`` on its own), nor does a channel axis of size 1, which is not written."""
    from symcnn.core.symbols import Grid, Role

    batch = Grid("d", Role.DELTA, (10, 2, 2), (False, False, False), batch=True)
    assert (batch.names[0], batch.names[-1]) == ("d_n1_11", "d_n10_22")
    channels = Grid("w", Role.WEIGHT, (12, 2, 2), (True, False, False))
    assert (channels.names[0], channels.names[-1]) == ("w_1_1_1", "w_12_2_2")
    assert Grid("v", Role.WEIGHT, (1, 2, 2), (True, False, False)).names[-1] == "v_22"
    wide = Grid("a", Role.INPUT, (1, 1, 10), (True, False, False))
    assert wide.names[-1] == "a_1_10"


def test_the_clash_named_is_the_entry_that_clashes() -> None:
    import pytest

    from symcnn.core.symbols import Grid, Role, SymbolTable

    earlier = Grid("c_2", Role.TARGET, (), ())
    with pytest.raises(ValueError, match=r"^symbol name c_2 used twice$"):
        SymbolTable([earlier, Grid("c", Role.INPUT, (3,), (False,))])
