// The admin API's request bodies (proxy/api_body.h): what each parser accepts, and the status
// and message of what it refuses.
#include "proxy/api_body.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringway::proxy::api {
namespace {

using ::testing::HasSubstr;

TEST(ApiBodyTest, ReadsADomain) {
  DomainFields f;
  admin::Response error;
  ASSERT_TRUE(ParseDomain(
      R"({"domain": "shop.example.com", "enabled_backends_tag": "b", "http_to_https": true})", &f,
      &error))
      << error.body;
  EXPECT_EQ(*f.domain, "shop.example.com");
  EXPECT_EQ(*f.tag, "b");
  EXPECT_TRUE(*f.https);
  EXPECT_FALSE(f.upstream.has_value());
}

TEST(ApiBodyTest, ReadsABackend) {
  BackendFields f;
  admin::Response error;
  ASSERT_TRUE(ParseBackend(
      R"({"id": "web-v2", "address": "127.0.0.1:3002", "tags": ["b", "b", "stable"],
          "weight": 7, "state": "drain"})",
      &f, &error))
      << error.body;
  EXPECT_EQ(*f.id, "web-v2");
  EXPECT_EQ(*f.address, "127.0.0.1:3002");
  EXPECT_EQ(*f.tags, (std::vector<std::string>{"b", "stable"}));  // duplicates dropped
  EXPECT_EQ(*f.weight, 7u);
  EXPECT_EQ(*f.state, config::BackendState::kDrain);
}

void ExpectBackendRefused(std::string_view json, uint16_t status, std::string_view part) {
  BackendFields f;
  admin::Response error;
  ASSERT_FALSE(ParseBackend(json, &f, &error)) << json;
  EXPECT_EQ(error.status, status) << json << " -> " << error.body;
  EXPECT_THAT(error.body, HasSubstr(part)) << json;
}

TEST(ApiBodyTest, RefusesWhatIsNotAnObjectOfKnownFields) {
  ExpectBackendRefused("", 400, "the body is not valid JSON: line 1, column 1");
  ExpectBackendRefused("{\"id\": \"a\",}", 400, "trailing");
  ExpectBackendRefused("[\"a\"]", 400, "the body is not a JSON object");
  ExpectBackendRefused(R"({"id": "a", "colour": "red"})", 400, "unknown field 'colour'");
  // The same key twice could be read two ways: refused, with where.
  ExpectBackendRefused(R"({"weight": 1, "weight": 900})", 400,
                       "line 1, column 15: a key appears twice");
}

TEST(ApiBodyTest, RefusesWrongTypesAndValues) {
  ExpectBackendRefused(R"({"id": 5})", 400, "'id' must be a string");
  ExpectBackendRefused(R"({"tags": "a"})", 400, "'tags' must be a list of strings");
  ExpectBackendRefused(R"({"tags": ["a", 1]})", 400, "'tags' must be a list of strings");
  ExpectBackendRefused(R"({"weight": 1.5})", 400, "'weight' must be a whole number");
  ExpectBackendRefused(R"({"weight": -1})", 400, "'weight' must be a whole number");
  ExpectBackendRefused(R"({"weight": 1e2})", 400, "'weight' must be a whole number");
  ExpectBackendRefused(R"({"weight": 18446744073709551616})", 400, "whole number");
  ExpectBackendRefused(R"({"weight": 0})", 422, "weight 0 is out of range");
  ExpectBackendRefused(R"({"weight": 1001})", 422, "out of range");
  ExpectBackendRefused(R"({"tags": ["bad tag"]})", 422, "tag 'bad tag' is not valid");
  ExpectBackendRefused(R"({"address": "nowhere"})", 422, "");
  ExpectBackendRefused(R"({"state": "asleep"})", 422, "state 'asleep' is not known");
}

// A body may be up to the admin server's max_body (1 MiB); its values are bounded so that what
// one request makes the admin thread hold stays small.
TEST(ApiBodyTest, BoundsTheValuesOfABody) {
  std::string tags = "{\"tags\": [";
  for (int i = 0; i < 20'000; ++i) tags += i ? ",\"a\"" : "\"a\"";
  tags += "]}";
  ExpectBackendRefused(tags, 400, "more than 10000 values");

  std::string nested = "{\"tags\": " + std::string(20, '[') + std::string(20, ']') + "}";
  ExpectBackendRefused(nested, 400, "nested more than 8 deep");

  std::string fits = "{\"tags\": [";
  for (int i = 0; i < 9'000; ++i) fits += i ? ",\"a\"" : "\"a\"";
  fits += "]}";
  BackendFields f;
  admin::Response error;
  ASSERT_TRUE(ParseBackend(fits, &f, &error)) << error.body;
  EXPECT_EQ(f.tags->size(), 1u);
}

TEST(ApiBodyTest, SwitchNeedsAValidTag) {
  SwitchFields f;
  admin::Response error;
  ASSERT_TRUE(ParseSwitch(R"({"new_tag": "b", "force": true})", &f, &error)) << error.body;
  EXPECT_EQ(*f.tag, "b");
  EXPECT_TRUE(*f.force);

  SwitchFields g;
  ASSERT_FALSE(ParseSwitch("{}", &g, &error));
  EXPECT_EQ(error.status, 422);
  EXPECT_THAT(error.body, HasSubstr("'new_tag' is missing"));
  ASSERT_FALSE(ParseSwitch(R"({"new_tag": "b", "force": "yes"})", &g, &error));
  EXPECT_EQ(error.status, 400);
  EXPECT_THAT(error.body, HasSubstr("'force' must be true or false"));
}

}  // namespace
}  // namespace ringway::proxy::api
