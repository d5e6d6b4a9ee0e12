"""Data-parallel training: the digits MLP on several processes, over MPI.

    mpiexec -n 2 python examples/ddp_digits.py     (QUASAR_EXAMPLE_FAST=1: 5 epochs)

Every process (rank) builds the same model; DistributedDataParallel copies
rank 0's weights to all of them and, during each backward, averages the
gradients over the ranks, so every optimizer takes the same step. A
DistributedSampler gives each rank its own share of every epoch, so 2 ranks
with batch 16 each train like one process with batch 32. On one machine the
ranks share the cores (``cores // ranks`` threads each); with a hostfile
(``mpiexec -n 8 -f hosts ...``) they spread over machines.
"""

import numpy as np
from _common import FAST, require

import quasar as qs
import quasar.distributed as dist
import quasar.nn.functional as F
from quasar.data import DataLoader, DistributedSampler, TensorDataset
from quasar.nn.parallel import DistributedDataParallel

datasets = require("sklearn.datasets", "scikit-learn")
model_selection = require("sklearn.model_selection", "scikit-learn")

dist.init_process_group("mpi")
rank, world = dist.get_rank(), dist.get_world_size()

images, labels = datasets.load_digits(return_X_y=True)
images = (images / 16).astype(np.float32)
x_train, x_test, y_train, y_test = model_selection.train_test_split(
    images, labels, test_size=0.25, stratify=labels, random_state=0
)
train = TensorDataset(qs.tensor(x_train), qs.tensor(y_train))
sampler = DistributedSampler(train, shuffle=True, seed=0)  # this rank's share of each epoch
loader = DataLoader(train, batch_size=32 // world, sampler=sampler)

qs.manual_seed(rank)  # different on purpose: DDP copies rank 0's weights to every rank
model = DistributedDataParallel(qs.nn.Sequential(qs.nn.Linear(64, 256), qs.nn.ReLU(), qs.nn.Linear(256, 10)))
optimizer = qs.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
epochs = 5 if FAST else 40
scheduler = qs.optim.CosineAnnealingLR(optimizer, T_max=epochs)
if rank == 0:
    print(f"{world} ranks, {len(loader)} batches of {32 // world} per rank and epoch; {dist.describe()}")

for epoch in range(epochs):
    sampler.set_epoch(epoch)  # a new shuffle, the same on every rank
    model.train()
    total = qs.zeros(2, dtype=qs.float64)  # loss sum and sample count of this rank
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()  # gradients averaged over the ranks before this returns
        optimizer.step()
        total += qs.tensor([loss.item() * len(y), len(y)], dtype=qs.float64)
    scheduler.step()
    dist.all_reduce(total)  # every rank's sums: the loss over the whole epoch
    if rank == 0 and (epoch % 10 == 9 or epoch == epochs - 1):
        print(f"epoch {epoch + 1}: mean training loss {total[0].item() / total[1].item():.4f}")

model.eval()
with qs.no_grad():
    predicted = model(qs.tensor(x_test)).numpy().argmax(axis=1)
accuracy = float((predicted == y_test).mean())
weights = model.module[0].weight.detach().numpy()
same = qs.tensor(weights.copy())
dist.broadcast(same, src=0)
assert np.array_equal(same.numpy(), weights), "the ranks' models drifted apart"
if rank == 0:
    print(f"test accuracy: {accuracy:.2%} (every rank holds identical weights)")
dist.destroy_process_group()
