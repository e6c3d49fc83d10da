"""Meta-trained agents (torch, stable-baselines3, sb3-contrib).

- :mod:`agents.recurrent_ppo`: sb3-contrib RecurrentPPO on the bandit envs: tuned presets,
  an entropy schedule, the Bayes gap in TensorBoard, checkpoints, resume, and
  :class:`~agents.recurrent_ppo.RecurrentPPOMachine`, the policy as a state machine;
- :mod:`agents.rl2`: the fast batched trainer: a torch actor-critic (LSTM, GRU or RNN core)
  trained with PPO or A2C on whole episodes of the native vector envs, tuned presets, the
  Bayes gap in TensorBoard, checkpoints, bit-for-bit resume, and
  :class:`~agents.rl2.RL2Machine`, the policy as a state machine;
- :mod:`agents.bandit_eval`: what the bandit trainers share: paired evaluation of a bandit
  state machine on an env's task family, and the reference policy to pair it with;
- :mod:`agents.vec_env`: an SB3 ``VecEnv`` over the native vector envs;
- :mod:`agents.predictor`: supervised LSTM predictors for the prediction envs and their
  state-machine adapter;
- :mod:`agents.rollouts`: batched rollouts of any state machine that record observations,
  states, outputs, actions, rewards and the Bayes posterior;
- :mod:`agents.runs`: what a run folder holds, and its agent as a state machine.

This package may import ``bayes`` and ``meta_envs``, never ``benchmarks``. Its submodules are
imported on demand, so ``import agents`` alone does not load torch.
"""
