"""The interleaving explorer's own pieces: every order of a set of calls, and replaying one."""

from __future__ import annotations

import itertools

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


def test_orders_can_be_bounded_by_their_switches_between_operations():
    from sandbox.interleave import bounded_orders

    assert sorted(all_orders([2, 2], max_switches=1)) == [[0, 0, 1, 1], [1, 1, 0, 0]]
    assert len(list(all_orders([2, 2], max_switches=2))) == 4  # 0110 1001 0011 1100
    assert len(list(all_orders([3, 3], max_switches=None))) == 20
    every, bound = bounded_orders([3, 3], limit=100)
    assert len(every) == 20 and bound is None  # few enough: all of them
    orders, bound = bounded_orders([15, 15], limit=1000)
    assert bound is not None and len(orders) <= 1000
    switches = [sum(1 for a, b in itertools.pairwise(o) if a != b) for o in orders]
    assert max(switches) == bound and len({tuple(o) for o in orders}) == len(orders)
