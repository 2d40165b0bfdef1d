"""Solver: trains a model of the course's (model.params, model.loss(X, y)) with an update rule, as the
course's eecs598.Solver documents it."""

import time

import torch


class Solver:
    """Solver(model, data, update_rule=sgd, optim_config={}, lr_decay=1.0, batch_size=100,
    num_epochs=10, num_train_samples=1000, num_val_samples=None, print_every=10,
    print_acc_every=1, verbose=True, device="cpu"); data holds X_train, y_train, X_val, y_val."""

    def __init__(self, model, data, **kwargs):
        self.model = model
        self.X_train, self.y_train = data["X_train"], data["y_train"]
        self.X_val, self.y_val = data["X_val"], data["y_val"]
        self.update_rule = kwargs.pop("update_rule", self.sgd)
        self.optim_config = kwargs.pop("optim_config", {})
        self.lr_decay = kwargs.pop("lr_decay", 1.0)
        self.batch_size = kwargs.pop("batch_size", 100)
        self.num_epochs = kwargs.pop("num_epochs", 10)
        self.num_train_samples = kwargs.pop("num_train_samples", 1000)
        self.num_val_samples = kwargs.pop("num_val_samples", None)
        self.device = kwargs.pop("device", "cpu")
        self.checkpoint_name = kwargs.pop("checkpoint_name", None)
        self.print_every = kwargs.pop("print_every", 10)
        self.print_acc_every = kwargs.pop("print_acc_every", 1)
        self.verbose = kwargs.pop("verbose", True)
        if kwargs:
            raise ValueError("Unrecognized arguments %s" % ", ".join(f'"{k}"' for k in kwargs))
        self._reset()

    def _reset(self):
        self.epoch = 0
        self.best_val_acc = 0
        self.best_params = {}
        self.loss_history, self.train_acc_history, self.val_acc_history = [], [], []
        self.optim_configs = {p: dict(self.optim_config) for p in self.model.params}

    def _step(self):
        num_train = self.X_train.shape[0]
        mask = torch.randperm(num_train)[: self.batch_size]
        X_batch = self.X_train[mask].to(self.device)
        y_batch = self.y_train[mask].to(self.device)
        loss, grads = self.model.loss(X_batch, y_batch)
        self.loss_history.append(loss.item())
        with torch.no_grad():
            for name, value in self.model.params.items():
                next_value, next_config = self.update_rule(value, grads[name], self.optim_configs[name])
                self.model.params[name] = next_value
                self.optim_configs[name] = next_config

    @staticmethod
    def sgd(w, dw, config=None):
        """Vanilla stochastic gradient descent, the default update rule."""
        config = {} if config is None else config
        config.setdefault("learning_rate", 1e-2)
        return w - config["learning_rate"] * dw, config

    def check_accuracy(self, X, y, num_samples=None, batch_size=100):
        """The share of X (a random num_samples of it, where given) the model classifies as y."""
        N = X.shape[0]
        if num_samples is not None and N > num_samples:
            mask = torch.randperm(N, device=self.device)[:num_samples]
            N, X, y = num_samples, X[mask], y[mask]
        X, y = X.to(self.device), y.to(self.device)
        predicted = []
        for start in range(0, N, batch_size):
            scores = self.model.loss(X[start : start + batch_size])
            predicted.append(torch.argmax(scores, dim=1))
        return (torch.cat(predicted) == y).to(torch.float).mean().item()

    def train(self, time_limit=None, return_best_params=True):
        """Run the optimisation; keeps the parameters with the best validation accuracy."""
        num_train = self.X_train.shape[0]
        per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * per_epoch
        started = time.time()
        for t in range(num_iterations):
            self._step()
            if self.verbose and t % self.print_every == 0:
                print(
                    "(Time %.2f sec; Iteration %d / %d) loss: %f"
                    % (time.time() - started, t + 1, num_iterations, self.loss_history[-1])
                )
            epoch_end = (t + 1) % per_epoch == 0
            if epoch_end:
                self.epoch += 1
                for config in self.optim_configs.values():
                    config["learning_rate"] = config.get("learning_rate", 1e-2) * self.lr_decay
            with torch.no_grad():
                if t == 0 or t == num_iterations - 1 or (epoch_end and self.epoch % self.print_acc_every == 0):
                    train_acc = self.check_accuracy(self.X_train, self.y_train, num_samples=self.num_train_samples)
                    val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
                    self.train_acc_history.append(train_acc)
                    self.val_acc_history.append(val_acc)
                    if self.verbose:
                        print(
                            "(Epoch %d / %d) train acc: %f; val_acc: %f"
                            % (self.epoch, self.num_epochs, train_acc, val_acc)
                        )
                    if val_acc > self.best_val_acc:
                        self.best_val_acc = val_acc
                        self.best_params = {k: v.clone() for k, v in self.model.params.items()}
            if time_limit is not None and time.time() - started > time_limit:
                break
        if return_best_params and self.best_params:
            self.model.params = self.best_params
