"""Beta tables: infinite values and a repeated CpG header are refused with one line naming the column
(pandas silently renamed a repeated header to ``cg….1``, which was then dropped as metadata; inf/-inf were
clipped to 1/0)."""

from __future__ import annotations

import pytest

from methylclass.errors import DataError
from methylclass.io.betas_table import read_beta_table


@pytest.mark.parametrize("bad", ["inf", "-inf"])
def test_infinite_beta_is_refused(tmp_path, bad):
    path = tmp_path / "t.csv"
    path.write_text(f"sample,cg00000029,cg00000108\nS1,0.5,0.2\nS2,{bad},0.3\n")
    with pytest.raises(DataError, match="column 'cg00000029' holds a non-finite value"):
        read_beta_table(path)


def test_infinite_cnv_feature_is_refused(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("sample,cg00000029,cnv_fga\nS1,0.5,0.2\nS2,0.4,inf\n")
    with pytest.raises(DataError, match="column 'cnv_fga' holds a non-finite value"):
        read_beta_table(path, feature_blocks=("cnv_",))


def test_repeated_cpg_header_is_refused(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("sample,cg00000029,cg00000108,cg00000029\nS1,0.5,0.2,0.5\nS2,0.4,0.3,0.1\n")
    with pytest.raises(DataError, match="column 'cg00000029' appears more than once"):
        read_beta_table(path)
