"""The interleaving explorer's own pieces: every order of a set of calls, and replaying one."""

from __future__ import annotations

from sandbox.interleave import all_orders, replay_order


def test_all_orders_are_every_interleaving_once():
    orders = list(all_orders([2, 1]))
    assert sorted(orders) == [[0, 0, 1], [0, 1, 0], [1, 0, 0]]
    assert sum(1 for _ in all_orders([6, 6])) == 924  # 12! / (6! 6!)
    assert list(all_orders([0, 0])) == [[]]


def test_a_replayed_order_is_followed_then_whoever_is_left_goes():
    choose = replay_order([1, 0, 1])
    assert choose([0, 1]) == 1
    assert choose([0, 1]) == 0
    assert choose([0]) == 0  # 1 is not waiting: its turn is skipped, the next wanted is taken
    assert choose([0, 1]) == 0  # the order is spent: the first waiting goes
