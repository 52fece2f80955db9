"""End-to-end properties of a simulated cohort, checked on the IDATs read back through the foundation reader."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score

from methylclass.io.idat import read_idat
from methylclass.io.manifest import load_sesame_tsv
from methylclass.simulate.cohort import build_model
from methylclass.simulate.worker import sample_signals


def test_idats_read_back_with_the_foundation_reader(cohort):
    """Reference: the IDAT v3 reader (methylclass.io.idat) and the manifest's address set.

    Every sample has a Grn/Red pair named <barcode>_<RxxCxx>_{Grn,Red}.idat with the sheet's barcode and
    position inside; both files hold the manifest's probe + control addresses (plus unused ones), sorted, and
    identical bead counts (the same beads are imaged in both channels)."""
    sheet = pd.read_csv(cohort.samplesheet, dtype={"Sentrix_ID": str})
    man = cohort.manifest
    used = np.unique(np.concatenate([man.probes["address_u"], man.probes["address_m"], man.controls["address"]]))
    used = used[used >= 0]
    assert len(sheet) == 4 * 8 + 6
    for row in sheet.itertuples(index=False):
        assert len(row.Sentrix_ID) == 12 and row.Sentrix_ID.isdigit()
        base = cohort.out_dir / row.Basename
        assert base.name == f"{row.Sentrix_ID}_{row.Sentrix_Position}"
        grn, red = read_idat(f"{base}_Grn.idat"), read_idat(f"{base}_Red.idat")
        assert grn.barcode == row.Sentrix_ID and grn.position == row.Sentrix_Position
        assert np.array_equal(grn.illumina_ids, red.illumina_ids)
        assert np.all(np.diff(grn.illumina_ids) > 0)
        assert np.isin(used, grn.illumina_ids).all()
        assert np.array_equal(grn.n_beads, red.n_beads)
    # 8 samples per EPIC-like slide, positions R01C01..R08C01, barcodes distinct per slide
    per_slide = sheet.groupby("Sentrix_ID")["Sentrix_Position"].agg(list)
    assert per_slide.map(len).max() == 8
    assert set(sheet["Sentrix_Position"]) <= {f"R{r:02d}C01" for r in range(1, 9)}


def test_synthetic_manifest_files_reload_identically(cohort):
    """Reference: the in-memory design. manifest/probes.tsv.gz + controls.tsv re-read by the foundation's
    load_sesame_tsv give back the same probes (ids, addresses, design, channel, chrom, pos) and controls."""
    probes, controls = cohort.manifest_files
    back = load_sesame_tsv(probes, array="SYNTH", controls=controls)
    a = cohort.manifest.probes.reset_index(drop=True)
    b = back.probes.reset_index(drop=True)
    for col in ("probe_id", "address_u", "address_m", "design", "channel", "chrom", "pos"):
        assert (a[col].to_numpy() == b[col].to_numpy()).all(), col
    pd.testing.assert_frame_equal(cohort.manifest.controls.reset_index(drop=True),
                                  back.controls.reset_index(drop=True), check_dtype=False)


def test_raw_signals_recover_the_planted_methylation(cohort, cohort_signals):
    """Reference: the simulator's own planted β per probe (recomputed from the sample's random stream before
    intensity noise). raw_signals_from_idats (minfi channel rules) must recover it for Type I Red, Type I Grn
    and Type II probes (r > 0.95 each); swapping meth/unmeth would give r ≈ −0.95, so the channel rules are
    respected exactly."""
    truth, raws = cohort_signals
    model, _, _ = build_model(_cfg(cohort), cohort.manifest)
    specs = _specs(cohort, model)
    p = cohort.manifest.probes
    kinds = {"II": (p["design"] == "II").to_numpy(),
             "I-Red": ((p["design"] == "I") & (p["channel"] == "Red")).to_numpy(),
             "I-Grn": ((p["design"] == "I") & (p["channel"] == "Grn")).to_numpy()}
    for name in truth.samples["sample"].head(6):
        planted, _, _ = sample_signals(model, specs[name])
        raw = raws[name]
        ok = raw.beads_meth > 0
        for kind, sel in kinds.items():
            s = sel & ok
            r = np.corrcoef(planted[s], raw.betas()[s])[0, 1]
            assert r > 0.95, (name, kind, r)
            swapped = raw.unmeth[s] / (raw.meth[s] + raw.unmeth[s] + 100)
            assert np.corrcoef(planted[s], swapped)[0, 1] < -0.9


def _cfg(cohort):
    from methylclass.simulate import SimulationConfig

    meta = json.loads(cohort.config_json.read_text())["config"]
    meta["manifest"] = cohort.manifest
    meta["purity"] = tuple(meta["purity"])
    meta["dmp_delta"] = tuple(meta["dmp_delta"])
    return SimulationConfig(**meta)


def _specs(cohort, model):
    """The SampleSpec of every sample, redrawn exactly as simulate_cohort drew them."""
    from methylclass.simulate.cohort import _class_events, _draw_samples
    from methylclass.simulate.design import default_layout
    from methylclass.simulate.profiles import make_layout

    cfg = _cfg(cohort)
    layout = make_layout(cfg.classes, cfg.families, cfg.n_per_class)
    ev = _class_events(cfg, layout, True, "hg19")
    specs = _draw_samples(cfg, layout, model.plan.params, default_layout("SYNTH", 8000), ev, True, "hg19")
    return {s.sample: s for s in specs}


def test_planted_dmps_differ_by_class_as_planted(cohort_signals, sim):
    """Reference: truth/dmps.tsv. For every class, its hyper DMPs are higher and its hypo DMPs lower in that
    class than in the other tumours (mean raw β difference ≥ 0.1 in the planted direction for ≥ 95 % of DMPs),
    and the observed class-minus-rest difference tracks the planted signed delta (slope 0.4–1.1: dilution by
    purity 0.6–0.95 and by the other classes' own DMPs)."""
    truth, raws = cohort_signals
    s = truth.samples[~truth.samples["is_normal"]]
    pid = np.asarray(next(iter(raws.values())).probe_ids)
    index = pd.Series(np.arange(pid.size), index=pid)
    betas = sim.beta_matrix(raws, list(s["sample"]))
    dm = truth.dmps[truth.dmps["level"] == "class"]
    for cls, grp in dm.groupby("class"):
        rows = index[grp["probe_id"]].to_numpy()
        inside = (s["class"] == cls).to_numpy()
        diff = np.nanmean(betas[inside][:, rows], axis=0) - np.nanmean(betas[~inside][:, rows], axis=0)
        sign = np.where(grp["direction"] == "hyper", 1.0, -1.0)
        assert np.mean(sign * diff >= 0.1) >= 0.95, cls
        slope = np.polyfit(sign * grp["delta"].to_numpy(), diff, 1)[0]
        assert 0.4 < slope < 1.1, (cls, slope)


def test_family_dmps_are_shared_by_sibling_classes(cohort_signals, sim):
    """Reference: truth/dmps.tsv family rows. A family's DMPs separate its samples from the other family in
    the planted direction (≥ 95 %), while the two sibling classes of the family agree on them (|Δβ| < 0.1)."""
    truth, raws = cohort_signals
    s = truth.samples[~truth.samples["is_normal"]]
    pid = np.asarray(next(iter(raws.values())).probe_ids)
    index = pd.Series(np.arange(pid.size), index=pid)
    betas = sim.beta_matrix(raws, list(s["sample"]))
    dm = truth.dmps[truth.dmps["level"] == "family"]
    for fam, grp in dm.groupby("family"):
        rows = index[grp["probe_id"]].to_numpy()
        inside = (s["family"] == fam).to_numpy()
        b = betas[:, rows]
        diff = np.nanmean(b[inside], 0) - np.nanmean(b[~inside], 0)
        sign = np.where(grp["direction"] == "hyper", 1.0, -1.0)
        assert np.mean(sign * diff >= 0.1) >= 0.95
        classes = sorted(s.loc[inside, "class"].unique())
        a, c = (s["class"] == classes[0]).to_numpy(), (s["class"] == classes[1]).to_numpy()
        assert np.median(np.abs(np.nanmean(b[a], 0) - np.nanmean(b[c], 0))) < 0.1


def test_a_simple_classifier_separates_the_classes(cohort_signals, sim):
    """Reference: the truth class labels. Logistic regression on the 2,000 most variable raw betas of the 32
    tumours reaches ≥ 90 % 4-fold cross-validated accuracy (chance: 25 %)."""
    truth, raws = cohort_signals
    s = truth.samples[~truth.samples["is_normal"]]
    x = np.nan_to_num(sim.beta_matrix(raws, list(s["sample"])), nan=0.5)
    top = np.argsort(x.var(axis=0))[-2000:]
    acc = cross_val_score(LogisticRegression(max_iter=2000, C=1.0), x[:, top], s["class"].to_numpy(),
                          cv=StratifiedKFold(4, shuffle=True, random_state=0))
    assert acc.mean() >= 0.9, acc


def _shifts(cohort, truth, raws, sim):
    """Per tumour: log2(M+U) minus the normals' per-probe median, centred on the sample's autosomal median."""
    s = truth.samples
    normals = list(s.loc[s["is_normal"], "sample"])
    ref = np.median(sim.log2_total(raws, normals), axis=0)
    auto = sim.autosomal(cohort.manifest)
    out = {}
    for name in s.loc[~s["is_normal"], "sample"]:
        d = sim.log2_total(raws, [name])[0] - ref
        out[name] = d - np.median(d[auto])
    return out


def test_planted_arm_events_shift_log2_total_intensity(cohort, cohort_signals, sim):
    """Reference: truth/cnv.tsv and the expected effect log2(purity·CN/2 + 1 − purity). For every planted
    whole-chromosome / arm gain or loss, the median shift of log2(M+U) versus the normals' median over the
    event's probes has the planted sign and lies within 0.2 of the expected value."""
    truth, raws = cohort_signals
    shifts = _shifts(cohort, truth, raws, sim)
    p = cohort.manifest.probes
    purity = truth.samples.set_index("sample")["purity"]
    ev = truth.cnv[truth.cnv["kind"].isin(["gain", "loss"])]
    assert len(ev) >= 20
    for row in ev.itertuples(index=False):
        sel = ((p["chrom"] == row.chrom) & (p["pos"] >= row.start) & (p["pos"] <= row.end)).to_numpy()
        got = np.median(shifts[row.sample][sel])
        pur = purity[row.sample]
        want = np.log2(pur * row.copy_number / 2 + 1 - pur)
        assert np.sign(got) == np.sign(want), (row, got)
        assert abs(got - want) < 0.2, (row.sample, row.region, got, want)


def test_focal_amplification_and_homozygous_deletion_are_visible(cohort, cohort_signals, sim):
    """Reference: truth/cnv.tsv focal events and the expected log2(purity·CN/2 + 1 − purity). Probes inside
    a homozygous deletion drop by more than 1 log2 unit and by 60–100 % of the expected drop (the background,
    which copy number does not touch, compresses the deepest deletions, as on real arrays); probes of an
    amplification to 10 copies rise by 80–100 % of the expected log2 gain (+0.2)."""
    truth, raws = cohort_signals
    shifts = _shifts(cohort, truth, raws, sim)
    p = cohort.manifest.probes
    purity = truth.samples.set_index("sample")["purity"]
    for kind in ("homdel", "amp"):
        ev = truth.cnv[truth.cnv["kind"] == kind]
        assert len(ev) == 8
        for row in ev.itertuples(index=False):
            sel = ((p["chrom"] == row.chrom) & (p["pos"] >= row.start) & (p["pos"] <= row.end)).to_numpy()
            assert sel.sum() >= 8
            got = float(np.median(shifts[row.sample][sel]))
            pur = purity[row.sample]
            want = np.log2(pur * row.copy_number / 2 + 1 - pur)
            if kind == "homdel":
                assert got < -1.0 and want - 0.2 <= got <= 0.6 * want, (row.sample, got, want)
            else:
                assert 0.8 * want <= got <= want + 0.2, (row.sample, got, want)


def test_sex_chromosomes_follow_the_sample_sex(cohort, cohort_signals, sim):
    """Reference: truth sex. chrY probes of males are ≥ 2.5 log2 units brighter than those of females in
    median, and every male above every female (females have no Y: cross-hybridisation only), chrX probes of
    females ~1 log2 unit brighter (two copies), and X-linked island CpGs of females are about half methylated
    (X inactivation)."""
    truth, raws = cohort_signals
    s = truth.samples[truth.samples["is_normal"] | (truth.samples["purity"] > 0)]
    chrom = cohort.manifest.probes["chrom"].to_numpy()
    lt = sim.log2_total(raws, list(s["sample"]))
    male = (s["sex"] == "M").to_numpy()
    assert 0 < male.sum() < len(male)
    auto = sim.autosomal(cohort.manifest)
    centred = lt - np.median(lt[:, auto], axis=1, keepdims=True)
    y = np.median(centred[:, chrom == "chrY"], axis=1)
    x = np.median(centred[:, chrom == "chrX"], axis=1)
    assert np.median(y[male]) - np.median(y[~male]) > 2.5 and y[male].min() - y[~male].max() > 1.0
    assert 0.6 < np.median(x[~male]) - np.median(x[male]) < 1.3
    from methylclass.simulate import cpg_context

    xi = (chrom == "chrX") & (cpg_context(cohort.manifest) == 0)
    normals = truth.samples[truth.samples["is_normal"]]
    xb = {r.sex: [] for r in normals.itertuples()}
    for r in normals.itertuples(index=False):
        xb[r.sex].append(np.nanmedian(raws[r.sample].betas()[xi]))
    assert np.median(xb["F"]) - np.median(xb["M"]) > 0.2 and 0.3 < np.median(xb["F"]) < 0.65


def test_truth_tables_are_consistent(cohort):
    """Reference: the requested design. Class sizes, sexes, purity ranges, batches = slides, normals copy-
    neutral with purity 0, every class event present in all its samples (penetrance 1), documented columns."""
    from methylclass.simulate.truth import CNV_COLUMNS, DMP_COLUMNS, SAMPLE_COLUMNS

    t = pd.read_csv(cohort.truth_samples, sep="\t", dtype={"sentrix_id": str})
    dm = pd.read_csv(cohort.truth_dmps, sep="\t")
    cnv = pd.read_csv(cohort.truth_cnv, sep="\t")
    assert tuple(t.columns) == SAMPLE_COLUMNS and tuple(dm.columns) == DMP_COLUMNS
    assert tuple(cnv.columns) == CNV_COLUMNS
    assert t.loc[~t["is_normal"], "class"].value_counts().to_dict() == {c: 8 for c in ("F1_A", "F1_B", "F2_A", "F2_B")}
    normals = t.loc[t["is_normal"], "sample"]
    assert (t.loc[t["is_normal"], "purity"] == 0).all() and not cnv["sample"].isin(normals).any()
    tum = t[~t["is_normal"]]
    assert tum["purity"].between(0.6, 0.95).all()
    assert (t.groupby("sentrix_id")["batch"].nunique() == 1).all()
    per_class = {"F1_A": 3, "F1_B": 2, "F2_A": 2, "F2_B": 1}
    counts = cnv.groupby("sample").size()
    for row in tum.itertuples(index=False):
        assert counts.get(row.sample, 0) == per_class[row._6] == row.n_cnv_events
    assert set(dm["level"]) == {"tumour", "family", "class"}
    assert (dm.groupby(["level", "class"]).size().loc["class"] == 150).all()
    assert not dm["probe_id"].duplicated().any()
    assert dm["delta"].between(0.0, 0.95).all()
