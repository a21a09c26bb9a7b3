"""helpers.science.molecules: data filters, SELFIES round trips, the VAE's likelihood, MOSES metrics."""

import pytest

pytest.importorskip("rdkit")
pytest.importorskip("selfies")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from rdkit import Chem, DataStructs  # noqa: E402
from rdkit.Chem import Crippen, rdFingerprintGenerator  # noqa: E402

from helpers.science import molecules as mol  # noqa: E402
from helpers.vae import gaussian_kl  # noqa: E402


@pytest.fixture(scope="module")
def nci():
    return mol.load_nci()


def test_load_nci_applies_every_filter(nci):
    assert 3000 < len(nci) < 4000
    assert nci == sorted(set(nci))
    for s in nci:
        m = Chem.MolFromSmiles(s)
        assert Chem.MolToSmiles(m) == s  # canonical
        assert m.GetNumHeavyAtoms() <= 30 and len(Chem.GetMolFrags(m)) == 1
        assert all(a.GetSymbol() in mol.DEFAULT_ELEMENTS and a.GetFormalCharge() == 0 for a in m.GetAtoms())
    small = mol.load_nci(max_heavy_atoms=12)
    assert set(small) < set(nci)
    with pytest.raises(ValueError, match="max_heavy_atoms"):
        mol.load_nci(max_heavy_atoms=0)


def test_tokenizer_round_trip_and_the_selfies_guarantee(nci):
    tok = mol.SelfiesTokenizer.fit(nci)
    assert tok.tokens[0] == "[nop]" and tok.max_len == 40
    x = tok.encode(nci[:300])
    assert x.shape == (300, 40) and x.dtype == torch.long
    assert tok.decode(x) == nci[:300]
    random = torch.randint(0, tok.vocab_size, (200, tok.max_len), generator=torch.Generator().manual_seed(0))
    assert mol.validity(tok.decode(random)) == 1.0  # every SELFIES string is a molecule
    with pytest.raises(ValueError, match="max_len"):
        mol.SelfiesTokenizer(tok.tokens, 3).encode(["CCCCCCCCCC"])
    with pytest.raises(ValueError, match="alphabet"):
        mol.SelfiesTokenizer(["[C]"], 10).encode(["CCO"])


def test_vae_likelihood_is_the_categorical_log_probability():
    torch.manual_seed(0)
    vae = mol.SelfiesVAE(10, 12, z_dim=4, channels=8, hidden=16)
    x = torch.randint(0, 10, (5, 12))
    z = torch.randn(5, 4)
    logits = vae.logits(z)
    assert logits.shape == (5, 12, 10)
    expected = -torch.nn.functional.cross_entropy(logits.transpose(1, 2), x, reduction="none").sum(1)
    assert torch.allclose(vae.log_likelihood(x, z), expected, atol=1e-5)
    mu, logvar = vae.encode(x)
    rec, kl = vae.elbo_terms(x)
    assert torch.allclose(kl, gaussian_kl(mu, logvar)) and (rec <= 0).all()
    with pytest.raises(ValueError, match="int64 tokens"):
        vae.encode(torch.zeros(5, 11, dtype=torch.long))
    with pytest.raises(ValueError, match="kernel"):
        mol.SelfiesVAE(10, 12, kernel=4)


def test_vae_can_memorise_a_few_molecules(nci):
    torch.manual_seed(0)
    tok = mol.SelfiesTokenizer.fit(nci)
    x = tok.encode(nci[:8])
    vae = mol.SelfiesVAE(tok.vocab_size, tok.max_len, z_dim=8, channels=32, hidden=64)
    opt = torch.optim.Adam(vae.parameters(), lr=5e-3)
    for _ in range(500):
        loss = -vae.elbo(x, beta=0.1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert tok.decode(vae.reconstruct(x)) == nci[:8]


def test_validity_uniqueness_novelty():
    assert mol.validity(["CCO", "C1CC", ""]) == pytest.approx(1 / 3)
    assert mol.uniqueness(["CCO", "OCC", "C", "not a molecule"]) == pytest.approx(2 / 3)  # canonical forms
    assert mol.novelty(["CCO", "c1ccccc1", "C"], ["OCC"]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        mol.uniqueness(["xyz"])


def test_tanimoto_and_internal_diversity_match_rdkit(nci):
    mols = [Chem.MolFromSmiles(s) for s in nci[:40]]
    fps = mol.morgan_fingerprints(mols)
    assert fps.shape == (40, 1024) and set(fps.unique().tolist()) <= {0.0, 1.0}  # MOSES: 1,024 bits
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    bv = [gen.GetFingerprint(m) for m in mols]
    ref = np.array([DataStructs.BulkTanimotoSimilarity(b, bv) for b in bv])
    sim = mol.tanimoto_matrix(fps, fps).numpy()
    assert np.allclose(sim, ref, atol=1e-6)
    assert float(mol.internal_diversity(fps)) == pytest.approx(1 - ref.mean(), abs=1e-6)
    assert float(mol.internal_diversity(fps[:1].expand(6, -1))) == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError):
        mol.tanimoto_matrix(fps, fps[:, :10])


def test_properties_sa_and_the_penalised_logp_exploit():
    benzene, taxol_like = Chem.MolFromSmiles("c1ccccc1"), Chem.MolFromSmiles(
        "CC1=C2C(C(=O)C3(C)C(CC4OCC4(OC(C)=O)C3C(OC(=O)c3ccccc3)C(O)(CC1OC(=O)C(O)C(NC(=O)c1ccccc1)c1ccccc1)C2(C)C)O)OC(C)=O")
    assert 1 <= mol.sa_score(benzene) < mol.sa_score(taxol_like) <= 10
    p = mol.properties([benzene, taxol_like])
    assert set(p) == {"QED", "logP", "SA"} and all(v.shape == (2,) for v in p.values())
    chains = [mol.penalized_logp(Chem.MolFromSmiles("C" * n)) for n in (10, 20, 40)]
    assert chains[0] < chains[1] < chains[2]
    # each interior CH2 adds Crippen's C1 + 2 H1 increment, 0.1441 + 2 * 0.1230 = 0.3901, to logP
    for n in (12, 48):
        step = Crippen.MolLogP(Chem.MolFromSmiles("C" * (n + 1))) - Crippen.MolLogP(Chem.MolFromSmiles("C" * n))
        assert step == pytest.approx(0.1441 + 2 * 0.1230, abs=1e-4)
    # while SA barely moves: unbounded growth
    assert (chains[2] - chains[1]) / 20 > 0.3 and (chains[1] - chains[0]) / 10 > 0.3


def test_penalised_logp_cycle_term_is_the_largest_ring_beyond_six():
    for smiles, cycle in [("C1CCCCC1", 0), ("C1CCCCCC1", 1), ("C1CCCCCCCCCCC1", 6), ("CCCCCC", 0),
                          ("C1CCCCCCC1C1CCCCCCCCC1", 4)]:  # two rings: only the largest (10) counts
        m = Chem.MolFromSmiles(smiles)
        assert mol.penalized_logp(m) == pytest.approx(Crippen.MolLogP(m) - mol.sa_score(m) - cycle), smiles


def test_wasserstein_of_a_shift_is_the_shift():
    a = np.random.default_rng(0).normal(size=500)
    assert mol.wasserstein(a, a + 0.7) == pytest.approx(0.7)
    assert mol.wasserstein(a, np.sort(a)[::-1]) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError):
        mol.wasserstein([], a)


def test_draw_molecules_size_and_legend_check():
    mols = [Chem.MolFromSmiles(s) for s in ("CCO", "c1ccccc1", "CC(=O)O")]
    img = mol.draw_molecules(mols, ["a", "b", "c"], per_row=3, size=(100, 80))
    assert img.size == (300, 80)
    with pytest.raises(ValueError, match="legends"):
        mol.draw_molecules(mols, ["a"])
