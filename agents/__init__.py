"""Meta-trained agents (torch, stable-baselines3, sb3-contrib).

The trainers, one module each (:mod:`agents.registry` lists them by ``algo``):

- :mod:`agents.predictor` (``supervised``): LSTM predictors for the prediction envs, trained on
  the log-loss;
- :mod:`agents.recurrent_ppo` (``recurrent-ppo``): sb3-contrib RecurrentPPO on the bandit envs;
- :mod:`agents.rl2` (``rl2``): the fast batched RL² trainer (PPO or A2C on whole episodes of
  the native vector envs, LSTM, GRU or RNN cores).

What they share:

- :mod:`agents.training`: the base configs, presets, the training session (run folder, clock,
  history, TensorBoard, Ctrl-C), the loop, and the evaluation during training;
- :mod:`agents.runs`: run folders: preparing one, checkpoints, loading a run's agent;
- :mod:`agents.machines`: a recurrent torch network as a batched state machine;
- :mod:`agents.bandit_eval`: the bandit envs, paired evaluation of a bandit state machine on an
  env's task family, and the reference policy to pair it with;
- :mod:`agents.evaluation`: a run against the Bayes agent (``meta-bayes evaluate``);
- :mod:`agents.vec_env`: an SB3 ``VecEnv`` over the native vector envs;
- :mod:`agents.rollouts`: batched rollouts of any state machine that record observations,
  states, outputs, actions, rewards and the Bayes posterior.

This package may import ``bayes`` and ``meta_envs``, never ``benchmarks``. Its submodules are
imported on demand, so ``import agents`` alone does not load torch.
"""
