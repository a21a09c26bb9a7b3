"""Molecules for the chapter "Molecular design": data, SELFIES tokens, a sequence VAE, MOSES metrics.

* ``load_nci``: the 5,000 NCI compounds shipped inside the RDKit wheel (``Data/NCI/first_5K.smi``),
  filtered to small, neutral, single-fragment organic molecules; canonical SMILES, no download.
* ``SelfiesTokenizer``: SMILES <-> SELFIES (Krenn et al. 2020) <-> padded index tensors.
  Every SELFIES token string decodes to a valid molecule.
* ``SelfiesVAE``: a convolutional encoder and decoder over token sequences (one categorical per
  position given z), with the ELBO built from ``helpers.vae.gaussian_kl`` and ``reparameterize``.
* MOSES metrics (Polykovskiy et al. 2020): ``validity``, ``uniqueness``, ``novelty``,
  ``internal_diversity`` of Morgan fingerprints (``morgan_fingerprints``, ``tanimoto_matrix``),
  and per-molecule properties ``properties`` (QED, Crippen logP, SA score, penalised logP) whose
  distributions are compared with ``wasserstein``.
* ``draw_molecules``: a row or grid of structures with legends (RDKit's drawing).

Needs the ``[science]`` extra: ``pip install "gm4science-helpers[science]"`` (RDKit, SELFIES).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
import selfies as sf
import torch
from rdkit import Chem, DataStructs, RDConfig, RDLogger
from rdkit.Chem import QED, Crippen, Draw, rdFingerprintGenerator
from torch import Tensor, nn

from helpers import validate
from helpers.vae import gaussian_kl, reparameterize

__all__ = [
    "DEFAULT_ELEMENTS",
    "SelfiesTokenizer",
    "SelfiesVAE",
    "canonical",
    "draw_molecules",
    "internal_diversity",
    "load_nci",
    "morgan_fingerprints",
    "novelty",
    "penalized_logp",
    "properties",
    "sa_score",
    "tanimoto_matrix",
    "uniqueness",
    "validity",
    "wasserstein",
]

DEFAULT_ELEMENTS = ("C", "N", "O", "S", "F", "Cl", "Br")
PAD = "[nop]"  # SELFIES' own no-operation token: the decoder skips it, so it pads for free


# --------------------------------------------------------------------------- data
def nci_path() -> str:
    """Path of ``first_5K.smi`` inside the installed RDKit (found through ``RDConfig.RDDataDir``)."""
    return os.path.join(RDConfig.RDDataDir, "NCI", "first_5K.smi")


def canonical(smiles: str) -> str | None:
    """RDKit's canonical SMILES of ``smiles`` (stereochemistry kept), or None if it does not parse
    or is empty."""
    if not smiles:
        return None
    with _quiet_rdkit():
        mol = Chem.MolFromSmiles(smiles)
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    return Chem.MolToSmiles(mol)


def load_nci(
    max_heavy_atoms: int = 30,
    elements: Sequence[str] = DEFAULT_ELEMENTS,
    max_tokens: int | None = 40,
) -> list[str]:
    """The NCI molecules shipped with RDKit, filtered and canonicalised (sorted, unique).

    Kept: molecules that parse, have one fragment (no salts or mixtures), at most
    ``max_heavy_atoms`` heavy atoms, only atoms from ``elements``, no formal charges, and (if
    ``max_tokens`` is set) a SELFIES string of at most ``max_tokens`` tokens. Stereochemistry is
    removed. From the 5,000 compounds the defaults keep about 3,600.
    """
    validate.positive_int(max_heavy_atoms, "max_heavy_atoms")
    allowed = set(elements)
    out = set()
    with _quiet_rdkit(), open(nci_path(), encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if not parts:
                continue
            mol = Chem.MolFromSmiles(parts[0])
            if mol is None or len(Chem.GetMolFrags(mol)) != 1 or mol.GetNumHeavyAtoms() > max_heavy_atoms:
                continue
            if any(a.GetSymbol() not in allowed or a.GetFormalCharge() != 0 for a in mol.GetAtoms()):
                continue
            Chem.RemoveStereochemistry(mol)
            smi = Chem.MolToSmiles(mol)
            if max_tokens is not None and sf.len_selfies(sf.encoder(smi)) > max_tokens:
                continue
            out.add(smi)
    return sorted(out)


class _quiet_rdkit:
    """Context manager silencing RDKit's parse warnings (restored afterwards)."""

    def __enter__(self) -> None:
        RDLogger.DisableLog("rdApp.*")

    def __exit__(self, *exc: object) -> None:
        RDLogger.EnableLog("rdApp.*")


# --------------------------------------------------------------------------- tokens
class SelfiesTokenizer:
    """SMILES <-> padded SELFIES token indices.

    Index 0 is the padding token ``[nop]``, which SELFIES' decoder ignores, so any index sequence
    decodes to a valid molecule (possibly empty).

    Args:
        alphabet: the SELFIES tokens other than ``[nop]``.
        max_len: sequence length L of every encoded molecule.
    """

    def __init__(self, alphabet: Iterable[str], max_len: int) -> None:
        validate.positive_int(max_len, "max_len")
        tokens = sorted(set(alphabet) - {PAD})
        self.tokens: list[str] = [PAD, *tokens]
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.max_len = max_len

    @classmethod
    def fit(cls, smiles: Sequence[str]) -> SelfiesTokenizer:
        """A tokenizer whose alphabet and length cover every molecule in ``smiles``."""
        if len(smiles) == 0:
            raise ValueError("fit needs at least one SMILES string")
        seqs = [list(sf.split_selfies(sf.encoder(s))) for s in smiles]
        return cls({t for q in seqs for t in q}, max(len(q) for q in seqs))

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def encode(self, smiles: Sequence[str]) -> Tensor:
        """(n,) SMILES -> (n, max_len) int64 token indices, padded with 0 (``[nop]``).

        Raises ValueError for a molecule that is too long or uses a token outside the alphabet.
        """
        out = torch.zeros(len(smiles), self.max_len, dtype=torch.long)
        for i, s in enumerate(smiles):
            toks = list(sf.split_selfies(sf.encoder(s)))
            if len(toks) > self.max_len:
                raise ValueError(f"{s!r} has {len(toks)} SELFIES tokens, more than max_len={self.max_len}")
            try:
                out[i, : len(toks)] = torch.tensor([self.index[t] for t in toks], dtype=torch.long)
            except KeyError as exc:
                raise ValueError(f"{s!r} uses the token {exc.args[0]} outside this tokenizer's alphabet") from None
        return out

    def decode(self, indices: Tensor) -> list[str]:
        """(n, L) token indices -> n canonical SMILES ('' for a molecule with no atoms)."""
        validate.tensor(indices, "indices", shape=("n", "L"))
        out = []
        for row in indices.tolist():
            selfies = "".join(self.tokens[i] for i in row)
            try:
                smi = sf.decoder(selfies) or ""
            except sf.DecoderError:
                smi = ""
            out.append(canonical(smi) or "")
        return out


# --------------------------------------------------------------------------- the model
class SelfiesVAE(nn.Module):
    """A VAE over SELFIES token sequences with convolutional encoder and decoder.

    Encoder: tokens (batch, L) -> embedding -> two Conv1d layers (the second with stride 2) -> MLP
    -> mu, logvar (batch, z_dim), in the spirit of Gomez-Bombarelli et al. (2018).
    Decoder: z -> MLP -> (channels, L) feature map
    -> two Conv1d layers -> logits (batch, L, vocab): one categorical per position, independent
    given z (so decoding is a single parallel pass, cheap on a CPU; an autoregressive GRU decoder
    is the usual, slower, alternative). See the chapter "Molecular design".
    """

    def __init__(self, vocab_size: int, max_len: int, z_dim: int = 32, embed: int = 24,
                 channels: int = 64, hidden: int = 256, kernel: int = 3) -> None:
        super().__init__()
        for name, v in (("vocab_size", vocab_size), ("max_len", max_len), ("z_dim", z_dim),
                        ("embed", embed), ("channels", channels), ("hidden", hidden), ("kernel", kernel)):
            validate.positive_int(v, name)
        if kernel % 2 == 0:
            raise ValueError(f"kernel must be odd (same-length convolutions), got {kernel}")
        self.vocab_size, self.max_len, self.z_dim, self.channels = vocab_size, max_len, z_dim, channels
        pad = kernel // 2
        self.embed = nn.Embedding(vocab_size, embed)
        self.enc_conv = nn.Sequential(
            nn.Conv1d(embed, channels, kernel, padding=pad), nn.ReLU(),
            nn.Conv1d(channels, channels, kernel, padding=pad, stride=2), nn.ReLU(),
        )
        enc_len = (max_len - 1) // 2 + 1
        self.enc_mlp = nn.Sequential(nn.Linear(channels * enc_len, hidden), nn.ReLU(), nn.Linear(hidden, 2 * z_dim))
        self.dec_mlp = nn.Sequential(nn.Linear(z_dim, hidden), nn.ReLU(), nn.Linear(hidden, channels * max_len))
        self.dec_conv = nn.Sequential(
            nn.ReLU(), nn.Conv1d(channels, channels, kernel, padding=pad), nn.ReLU(),
            nn.Conv1d(channels, vocab_size, 1),
        )

    def _check_tokens(self, x: Tensor) -> None:
        if x.ndim != 2 or x.shape[1] != self.max_len or x.dtype != torch.long:
            raise ValueError(f"expected int64 tokens of shape (batch, {self.max_len}), got {x.dtype} {tuple(x.shape)}")

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """q(z|x) = N(mu, diag e^logvar): tokens (batch, L) -> mu, logvar (batch, z_dim)."""
        self._check_tokens(x)
        h = self.enc_conv(self.embed(x).transpose(1, 2)).flatten(1)
        out = self.enc_mlp(h)
        return out[:, : self.z_dim], out[:, self.z_dim:]

    def logits(self, z: Tensor) -> Tensor:
        """Decoder logits: z (batch, z_dim) -> (batch, L, vocab)."""
        h = self.dec_mlp(z).view(-1, self.channels, self.max_len)
        return self.dec_conv(h).transpose(1, 2)

    def log_likelihood(self, x: Tensor, z: Tensor) -> Tensor:
        """log p(x|z) = sum over positions of log softmax(logits)[token]: (batch,)."""
        logp = torch.log_softmax(self.logits(z), -1)
        return logp.gather(-1, x.unsqueeze(-1)).squeeze(-1).sum(-1)

    def elbo_terms(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(one-sample E_q[log p(x|z)], analytic KL(q(z|x) || N(0, I))), each (batch,)."""
        mu, logvar = self.encode(x)
        return self.log_likelihood(x, reparameterize(mu, logvar)), gaussian_kl(mu, logvar)

    def elbo(self, x: Tensor, beta: float = 1.0) -> Tensor:
        """E_q[log p(x|z)] - beta KL, one value per molecule (batch,), in nats."""
        rec, kl = self.elbo_terms(x)
        return rec - beta * kl

    @torch.no_grad()
    def decode(self, z: Tensor) -> Tensor:
        """The most likely token at each position: z (batch, z_dim) -> (batch, L) int64."""
        return self.logits(z).argmax(-1)

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """Tokens decoded from the encoder mean: (batch, L) -> (batch, L)."""
        return self.decode(self.encode(x)[0])

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Tokens of n molecules decoded from z ~ N(0, I): (n, L)."""
        p = next(self.parameters())
        z = torch.randn(n, self.z_dim, generator=generator, dtype=p.dtype, device=p.device)
        return self.decode(z)


# --------------------------------------------------------------------------- MOSES metrics
def validity(smiles: Sequence[str]) -> float:
    """Fraction of strings that RDKit parses into a non-empty molecule (MOSES 'Valid')."""
    if len(smiles) == 0:
        raise ValueError("validity of an empty list is undefined")
    return sum(canonical(s) is not None for s in smiles) / len(smiles)


def uniqueness(smiles: Sequence[str]) -> float:
    """Fraction of distinct canonical SMILES among the valid ones (MOSES 'Unique')."""
    valid = [c for c in (canonical(s) for s in smiles) if c is not None]
    if not valid:
        raise ValueError("uniqueness needs at least one valid molecule")
    return len(set(valid)) / len(valid)


def novelty(smiles: Sequence[str], training: Iterable[str]) -> float:
    """Fraction of the distinct valid molecules that are not in the training set (MOSES 'Novelty').

    Both sides are compared as canonical SMILES.
    """
    gen = {c for c in (canonical(s) for s in smiles) if c is not None}
    if not gen:
        raise ValueError("novelty needs at least one valid molecule")
    train = {c for c in (canonical(s) for s in training) if c is not None}
    return len(gen - train) / len(gen)


_MORGAN: dict[tuple[int, int], object] = {}


def morgan_fingerprints(mols: Sequence[Chem.Mol], radius: int = 2, n_bits: int = 1024) -> Tensor:
    """Morgan (ECFP4 for radius 2) bit fingerprints: n molecules -> (n, n_bits) float32 of 0/1.

    The defaults are MOSES's (radius 2, 1,024 bits) for its internal diversity.
    """
    validate.positive_int(radius, "radius")
    validate.positive_int(n_bits, "n_bits")
    key = (radius, n_bits)
    if key not in _MORGAN:
        _MORGAN[key] = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    gen = _MORGAN[key]
    out = np.zeros((len(mols), n_bits), dtype=np.float32)
    for i, m in enumerate(mols):
        DataStructs.ConvertToNumpyArray(gen.GetFingerprint(m), out[i])
    return torch.from_numpy(out)


def tanimoto_matrix(a: Tensor, b: Tensor) -> Tensor:
    """Tanimoto similarities |A & B| / |A | B| of bit vectors: a (n, bits), b (m, bits) -> (n, m).

    Two empty fingerprints have similarity 1 (identical).
    """
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"expected fingerprints (n, bits) and (m, bits), got {tuple(a.shape)} and {tuple(b.shape)}")
    inter = a @ b.T
    union = a.sum(1, keepdim=True) + b.sum(1)[None, :] - inter
    return torch.where(union > 0, inter / union.clamp_min(1e-12), torch.ones_like(inter))


def internal_diversity(fps: Tensor) -> Tensor:
    """MOSES internal diversity IntDiv_1 = 1 - mean Tanimoto similarity over all |G|^2 ordered
    pairs of the set G (self-pairs included, as in MOSES): fps (n, bits) of 0/1 -> scalar tensor.

    0 for n copies of one molecule; close to 1 for a set of unrelated molecules.
    """
    validate.tensor(fps, "fps", shape=("n", "bits"), min_len=1)
    return 1 - tanimoto_matrix(fps, fps).mean()


@lru_cache(maxsize=1)
def _sascorer():  # noqa: ANN202 - a module object
    path = os.path.join(RDConfig.RDContribDir, "SA_Score", "sascorer.py")
    spec = importlib.util.spec_from_file_location("sascorer", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"RDKit's Contrib SA_Score/sascorer.py was not found at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sa_score(mol: Chem.Mol) -> float:
    """Synthetic accessibility score (Ertl & Schuffenhauer 2009), 1 (easy) to 10 (hard), from
    RDKit's Contrib ``SA_Score/sascorer.py`` (found through ``RDConfig.RDContribDir``)."""
    return float(_sascorer().calculateScore(mol))


def penalized_logp(mol: Chem.Mol) -> float:
    """Penalised logP = Crippen logP - SA score - max(largest ring size - 6, 0).

    The objective of many molecular-optimisation papers (the cycle term as in the code released
    with JT-VAE and GCPN: the size of the largest ring beyond six atoms, here over RDKit's
    smallest set of smallest rings); unbounded above (see the chapter's caution). Unnormalised:
    the raw three terms, without the ZINC standardisation some papers add.
    """
    ring_sizes = [len(r) for r in mol.GetRingInfo().AtomRings()]
    cycle = max(max(ring_sizes, default=0) - 6, 0)
    return float(Crippen.MolLogP(mol) - sa_score(mol) - cycle)


def properties(mols: Sequence[Chem.Mol]) -> dict[str, np.ndarray]:
    """QED (Bickerton et al. 2012), Crippen logP and SA score of each molecule: arrays (n,)."""
    return {
        "QED": np.array([QED.qed(m) for m in mols]),
        "logP": np.array([Crippen.MolLogP(m) for m in mols]),
        "SA": np.array([sa_score(m) for m in mols]),
    }


def wasserstein(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """1-Wasserstein distance between two one-dimensional samples (the MOSES property distance)."""
    from scipy.stats import wasserstein_distance

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size == 0 or b.size == 0:
        raise ValueError("wasserstein needs two non-empty samples")
    return float(wasserstein_distance(a, b))


def draw_molecules(mols: Sequence[Chem.Mol], legends: Sequence[str] | None = None, per_row: int = 6,
                   size: tuple[int, int] = (220, 180)):  # noqa: ANN201 - a PIL image
    """A grid of 2-D structure drawings (RDKit ``MolsToGridImage``) as a PIL image."""
    if len(mols) == 0:
        raise ValueError("draw_molecules needs at least one molecule")
    if legends is not None and len(legends) != len(mols):
        raise ValueError(f"got {len(legends)} legends for {len(mols)} molecules")
    return Draw.MolsToGridImage(list(mols), molsPerRow=per_row, subImgSize=size,
                                legends=list(legends) if legends is not None else None)
