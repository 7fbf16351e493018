#include "core/timer.h"

#include <vector>

#include "gtest/gtest.h"

namespace ringway::core {
namespace {

TEST(TimerListTest, ExpiresInDeadlineOrder) {
  TimerList list(1, 100);
  TimerNode a, b, c;
  list.Arm(&a, 0);
  list.Arm(&b, 10);
  list.Arm(&c, 20);
  EXPECT_EQ(list.NextDeadline(), 100u);
  std::vector<TimerNode*> fired;
  list.Expire(110, [&](TimerNode* n) { fired.push_back(n); });
  EXPECT_EQ(fired, (std::vector<TimerNode*>{&a, &b}));
  EXPECT_FALSE(a.armed());
  EXPECT_TRUE(c.armed());
  EXPECT_EQ(list.NextDeadline(), 120u);
}

TEST(TimerListTest, RemoveAndRearmMoveToTail) {
  TimerList list(2, 50);
  TimerNode a, b;
  list.Arm(&a, 0);
  list.Arm(&b, 0);
  list.Remove(&a);
  list.Arm(&a, 30);  // re-armed later: now after b
  std::vector<TimerNode*> fired;
  list.Expire(60, [&](TimerNode* n) { fired.push_back(n); });
  EXPECT_EQ(fired, (std::vector<TimerNode*>{&b}));
  list.Expire(80, [&](TimerNode* n) { fired.push_back(n); });
  EXPECT_EQ(fired, (std::vector<TimerNode*>{&b, &a}));
  EXPECT_EQ(list.NextDeadline(), UINT64_MAX);
}

TEST(TimerListTest, FireMayRearmWithoutLooping) {
  TimerList list(3, 10);
  TimerNode a;
  list.Arm(&a, 0);
  int fired = 0;
  list.Expire(10, [&](TimerNode* n) {
    ++fired;
    list.Arm(n, 10);  // next deadline 20: must not fire again in this pass
  });
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(list.NextDeadline(), 20u);
  EXPECT_EQ(a.kind, 3);
}

TEST(TimerListTest, RemoveMiddleKeepsLinks) {
  TimerList list(1, 5);
  TimerNode n[4];
  for (auto& x : n) list.Arm(&x, 0);
  list.Remove(&n[1]);
  list.Remove(&n[3]);
  std::vector<TimerNode*> fired;
  list.Expire(100, [&](TimerNode* x) { fired.push_back(x); });
  EXPECT_EQ(fired, (std::vector<TimerNode*>{&n[0], &n[2]}));
}

}  // namespace
}  // namespace ringway::core
