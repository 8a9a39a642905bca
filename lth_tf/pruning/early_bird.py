"""Early-bird tickets (You et al., ICLR 2020): stop training once the mask pruning would draw has settled.

At every evaluation `EarlyBird` draws the masks that pruning would draw if the round ended
now (the round's criterion, counting and rates: `pruning_draw`) and keeps the last
`window` draws (the paper: a FIFO of 5). When the normalized Hamming distance between the
newest draw and each of the `window - 1` before it is at most `epsilon` (the paper: 0.1;
its code accepts equality), the ticket is drawn: training stops and the next mask is
pruned from the weights of that moment (`snapshot`, equal to `ticket_masks`' source).

The authors' code (GATECH-EIC/Early-Bird-Tickets, main.py `EarlyBird`) draws channel masks
from BatchNorm γ at the start of every epoch and normalizes by all channels, since it
prunes the dense network. Here masks are lth-tf's unstructured weight masks, drawn at each
evaluation, and the distance is normalized by the weights the round's mask still keeps
(the candidates): already-pruned weights agree in every draw and would make any late round
look settled.

Several levels (one-shot pruning draws every round's mask from the dense network) are
drawn together; the ticket is drawn when every level has settled.
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from lth_tf import masking
from lth_tf.pruning import counts as pruning
from lth_tf.training import weights
from lth_tf.training.callbacks import Resumable
from lth_tf.tfkeras import keras

Masks = masking.Masks
Draw = Callable[[keras.Model], List[Masks]]
"""The masks pruning would draw from the model's current weights, one per level."""
Score = Callable[[np.ndarray, Optional[np.ndarray]], np.ndarray]
"""(current weights, initial weights or None) -> scores; higher is kept."""

EPSILON = 0.1
"""The paper's threshold on the normalized Hamming distance."""
WINDOW = 5
"""The paper's FIFO: the newest mask is compared with each of the 4 before it."""


def magnitude(current: np.ndarray, initial: Optional[np.ndarray] = None) -> np.ndarray:
    """The paper's criterion (and lth-tf's default): keep the largest weights."""
    return np.abs(current)


def draw_masks(scores: Dict[str, np.ndarray], masks: Masks, level: int,
               rates: Optional[Dict[str, float]] = None, global_rate: Optional[float] = None) -> Masks:
    """Prunes `masks` to `level` rounds' worth by the round's counting: layer by layer with
    `rates` (keyed like the masks), or globally with `global_rate`."""
    if (rates is None) == (global_rate is None):
        raise ValueError("give either rates (layerwise pruning) or global_rate (global pruning)")
    if global_rate is not None:
        return pruning.prune_global(scores, masks, global_rate, level)
    return pruning.prune_layerwise(scores, masks, rates, level)


def pruning_draw(masks: Masks, levels: Sequence[int], rates: Optional[Dict[str, float]] = None,
                 global_rate: Optional[float] = None, score: Score = magnitude,
                 initial: Optional[Dict[str, np.ndarray]] = None) -> Draw:
    """What the round's pruning would draw from the model's weights now, at each of `levels`.

    `masks`: the round's mask (pruning only removes from it); `initial`: the masked weights'
    values at θ0, keyed like the masks, for criteria that compare with them.
    """
    if not levels:
        raise ValueError("early-bird needs at least one level to draw")

    def draw(model: keras.Model) -> List[Masks]:
        current = {k: v.numpy() for k, v in masking.prunable_weights(model).items()}
        scores = {k: score(current[k], (initial or {}).get(k)) for k in masks}
        return [draw_masks(scores, masks, level, rates, global_rate) for level in levels]

    return draw


def candidate_bits(drawn: Masks, masks: Masks) -> np.ndarray:
    """The draw on the weights `masks` keeps, in `masks`' key order, packed 8 to a byte."""
    return np.packbits(np.concatenate([np.asarray(drawn[k], bool)[np.asarray(m, bool)] for k, m in masks.items()]))


def mask_distance(a: Masks, b: Masks, masks: Masks) -> float:
    """Normalized Hamming distance: the fraction of the round's surviving weights on which two draws disagree."""
    candidates = int(sum(np.count_nonzero(m) for m in masks.values()))
    return _distance(candidate_bits(a, masks), candidate_bits(b, masks), candidates)


def _distance(a: np.ndarray, b: np.ndarray, candidates: int) -> float:
    return float(np.bitwise_count(np.bitwise_xor(a, b)).sum()) / candidates


class EarlyBird(keras.callbacks.Callback, Resumable):
    """Draws the next mask at every evaluation; stops the round once the last `window` draws agree.

    `masks`: the round's mask, whose surviving weights are the candidates. `start`: the
    iteration the round began at (θk). `earliest`: no ticket is drawn before this
    iteration (e.g. θk must be recorded first). With `stop=False` training goes on to the
    end and the early-bird point is only recorded. After training, `found` is the
    iteration of the ticket (None if the masks never settled), `snapshot` the weights θ
    there and `ticket_masks` the masks drawn from them; `distances` holds (iteration, the
    largest distance of the newest draw to the others, NaN until the FIFO is full).
    """

    def __init__(self, draw: Draw, masks: Masks, epsilon: float = EPSILON, window: int = WINDOW,
                 start: int = 0, earliest: int = 0, stop: bool = True):
        super().__init__()
        if not epsilon >= 0:
            raise ValueError(f"the early-bird threshold must be at least 0, not {epsilon}")
        if window < 2:
            raise ValueError(f"the early-bird window must hold at least 2 masks, not {window}")
        self.draw, self.epsilon, self.window = draw, float(epsilon), window
        self.masks = {k: np.asarray(m, bool) for k, m in masks.items()}
        self.candidates = int(sum(np.count_nonzero(m) for m in self.masks.values()))
        if self.candidates == 0:
            raise ValueError("the round's mask keeps no weight: there is nothing to draw")
        self.start, self.earliest, self.stop = start, earliest, stop
        self._reset()

    def _reset(self) -> None:
        self.recent: deque = deque(maxlen=self.window)
        self.distances: List[tuple] = []
        self.found: Optional[int] = None
        self.snapshot: Optional[weights.Snapshot] = None
        self.ticket_masks: Optional[List[Masks]] = None

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        iteration = self.start + int(self.model.optimizer.iterations.numpy())
        drawn = self.draw(self.model)
        if self.observe(drawn, iteration) and self.found is None and iteration >= self.earliest:
            self.found, self.snapshot, self.ticket_masks = iteration, weights.take(self.model), drawn
            if self.stop:
                self.model.stop_training = True

    def observe(self, drawn: List[Masks], iteration: int) -> bool:
        """Adds a draw (one mask per level); True when it is within `epsilon` of each of the last `window - 1`."""
        self.recent.append([candidate_bits(m, self.masks) for m in drawn])
        if len(self.recent) < self.window:
            self.distances.append((iteration, float("nan")))
            return False
        newest = self.recent[-1]
        largest = max(_distance(bits, older[level], self.candidates)
                      for older in list(self.recent)[:-1] for level, bits in enumerate(newest))
        self.distances.append((iteration, largest))
        return largest <= self.epsilon

    def state(self) -> Dict[str, np.ndarray]:
        out = {f"recent/{i}/{level}": bits for i, draw in enumerate(self.recent) for level, bits in enumerate(draw)}
        if self.distances:
            out["distances"] = np.array(self.distances, dtype=np.float64)
        if self.found is not None:
            out["found"] = np.array([self.found])
            out.update({f"snapshot/{i:04d}": value for i, value in enumerate(self.snapshot)})
            out.update({f"ticket/{level}/{k}": m for level, masks in enumerate(self.ticket_masks)
                        for k, m in masks.items()})
        return out

    def load_state(self, arrays: Dict[str, np.ndarray]) -> None:
        self._reset()
        draws: Dict[int, Dict[int, np.ndarray]] = {}
        for key, value in arrays.items():
            if key.startswith("recent/"):
                _, i, level = key.split("/")
                draws.setdefault(int(i), {})[int(level)] = value
        for i in sorted(draws):
            self.recent.append([draws[i][level] for level in sorted(draws[i])])
        self.distances = [(int(i), float(d)) for i, d in arrays.get("distances", np.zeros((0, 2)))]
        if "found" in arrays:
            self.found = int(arrays["found"][0])
            self.snapshot = [arrays[k] for k in sorted(k for k in arrays if k.startswith("snapshot/"))]
            levels: Dict[int, Masks] = {}
            for key in (k for k in arrays if k.startswith("ticket/")):
                _, level, name = key.split("/", 2)
                levels.setdefault(int(level), {})[name] = arrays[key]
            self.ticket_masks = [{k: levels[level][k] for k in self.masks} for level in sorted(levels)]
