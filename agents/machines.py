"""A recurrent torch network as a batched state machine: the adapter every trained agent uses.

The state-machine protocol (:class:`bayes.statemachine.StateMachine`) holds the state as one
``(B, d)`` float array; torch's recurrent layers hold it as ``parts`` tensors of shape
``(num_layers, B, hidden_size)``: ``(h, c)`` for an LSTM, ``(h,)`` for a GRU or a tanh RNN.
:func:`flatten_state` and :func:`unflatten_state` convert between the two; the flat state
lists ``h`` of every layer, then ``c`` of every layer (LSTM), so ``d = parts * num_layers *
hidden_size``. :class:`RecurrentMachine` does the rest of the protocol (checks, conversion
to and from numpy, no gradients); a trained network's adapter writes only :meth:`~RecurrentMachine.forward`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch

from bayes.validation import check_int

__all__ = ["RecurrentMachine", "flatten_state", "unflatten_state"]


def flatten_state(parts: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """``(B, d)``: the tensors ``(num_layers, B, hidden_size)`` of ``parts``, layer by layer, one after another."""
    return torch.cat([p.transpose(0, 1).reshape(p.shape[1], -1) for p in parts], dim=1)


def unflatten_state(flat: torch.Tensor, parts: int, num_layers: int, hidden_size: int) -> tuple[torch.Tensor, ...]:
    """The inverse of :func:`flatten_state`: ``parts`` contiguous tensors ``(num_layers, B, hidden_size)``."""
    b, n = len(flat), num_layers * hidden_size
    return tuple(flat[:, i * n:(i + 1) * n].reshape(b, num_layers, hidden_size).transpose(0, 1).contiguous()
                 for i in range(parts))


class RecurrentMachine(ABC):
    """A recurrent network as a batched :class:`~bayes.statemachine.StateMachine`.

    State ``(B, parts * num_layers * hidden_size)`` (see the module docstring), zeros at the
    start; output ``(B, P)`` float64, whatever :meth:`forward` returns (action probabilities,
    predictive parameters). ``step`` is pure and runs without gradients.
    """

    #: where the network runs: ``step`` sends the state and the observations there and brings the
    #: next state and the output back to the CPU as numpy arrays
    device: torch.device = torch.device("cpu")

    def __init__(self, parts: int, num_layers: int, hidden_size: int, device: torch.device | None = None) -> None:
        self.parts, self.num_layers, self.hidden_size = parts, num_layers, hidden_size
        if device is not None:
            self.device = device

    @property
    def state_size(self) -> int:
        return self.parts * self.num_layers * self.hidden_size

    def initial_state(self, batch_size: int) -> np.ndarray:
        return np.zeros((check_int(batch_size, "batch_size", 0), self.state_size))

    @abstractmethod
    def forward(self, obs: torch.Tensor, state: tuple[torch.Tensor, ...]
                ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """One step of the network: observations ``(B, obs_size)`` float32 and the state's parts
        to ``(next parts, output (B, P))``."""

    @torch.no_grad()
    def step(self, state: np.ndarray, observation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        state = np.asarray(state)
        if state.ndim != 2 or state.shape[1] != self.state_size:
            raise ValueError(f"state must have shape (B, {self.state_size}), got {state.shape}")
        obs = torch.as_tensor(np.asarray(observation, dtype=np.float32), device=self.device)
        parts = unflatten_state(torch.as_tensor(state, dtype=torch.float32, device=self.device), self.parts,
                                self.num_layers, self.hidden_size)
        parts, output = self.forward(obs, parts)
        return flatten_state(parts).double().cpu().numpy(), output.double().cpu().numpy()
