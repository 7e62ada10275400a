// serialize.hpp: every standard value type round-trips; user types opt in with one member;
// large blocks travel through shared memory; bad input is a SerializationError, never UB.
#include <concur/multiprocessing/serialize.hpp>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <complex>
#include <cstdint>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace mp = concur::multiprocessing;

namespace {

enum class Color : std::uint8_t { red, green, blue };
enum Plain { one = 1, two = 2 };

struct Point {
  double x = 0;
  double y = 0;
  std::string label;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(x, y, label);
  }
  bool operator==(const Point&) const = default;
};

struct Nested {
  std::map<std::string, std::vector<Point>> groups;
  std::optional<std::variant<int, std::string>> tag;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(groups, tag);
  }
  bool operator==(const Nested&) const = default;
};

struct NotSerializable {
  int x;
};

template <class T>
T round_trip(const T& value) {
  mp::Payload p = mp::serialize(value);
  return mp::deserialize<T>(p);
}

}  // namespace

static_assert(mp::Serializable<int>);
static_assert(mp::Serializable<Point>);
static_assert(mp::Serializable<std::map<std::string, std::vector<std::tuple<int, Color>>>>);
static_assert(!mp::Serializable<NotSerializable>);
static_assert(!mp::Serializable<int*>);

TEST(Serialize, ArithmeticValuesRoundTrip) {
  EXPECT_EQ(round_trip(42), 42);
  EXPECT_EQ(round_trip(-7LL), -7LL);
  EXPECT_EQ(round_trip(std::uint8_t{255}), 255);
  EXPECT_EQ(round_trip(true), true);
  EXPECT_EQ(round_trip(false), false);
  EXPECT_EQ(round_trip('z'), 'z');
  EXPECT_DOUBLE_EQ(round_trip(3.25), 3.25);
  EXPECT_FLOAT_EQ(round_trip(1.5F), 1.5F);
}

TEST(Serialize, EnumsRoundTrip) {
  EXPECT_EQ(round_trip(Color::blue), Color::blue);
  EXPECT_EQ(round_trip(two), two);
}

TEST(Serialize, StringsAndSequencesRoundTrip) {
  EXPECT_EQ(round_trip(std::string("hello, world")), "hello, world");
  EXPECT_EQ(round_trip(std::string()), "");
  EXPECT_EQ(round_trip(std::vector<int>{1, 2, 3}), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(round_trip(std::vector<bool>{true, false, true}), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(round_trip(std::vector<std::string>{"a", "", "ccc"}), (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_EQ(round_trip(std::array<int, 3>{4, 5, 6}), (std::array<int, 3>{4, 5, 6}));
}

TEST(Serialize, AssociativeContainersRoundTrip) {
  const std::map<std::string, int> m{{"a", 1}, {"b", 2}};
  EXPECT_EQ(round_trip(m), m);
  const std::unordered_map<int, std::string> u{{1, "x"}, {2, "y"}};
  EXPECT_EQ(round_trip(u), u);
  const std::set<double> s{1.5, 2.5};
  EXPECT_EQ(round_trip(s), s);
}

TEST(Serialize, PairsTuplesOptionalsAndVariantsRoundTrip) {
  const std::pair<int, std::string> p{1, "one"};
  EXPECT_EQ(round_trip(p), p);
  const std::tuple<int, double, std::string, Color> t{1, 2.5, "three", Color::green};
  EXPECT_EQ(round_trip(t), t);
  EXPECT_EQ(round_trip(std::optional<int>{}), std::nullopt);
  EXPECT_EQ(round_trip(std::optional<int>{9}), 9);
  const std::variant<int, std::string> v1 = 5;
  const std::variant<int, std::string> v2 = std::string("five");
  EXPECT_EQ(round_trip(v1), v1);
  EXPECT_EQ(round_trip(v2), v2);
  EXPECT_EQ(round_trip(std::complex<double>(1, -2)), std::complex<double>(1, -2));
  EXPECT_EQ(round_trip(std::chrono::milliseconds(1500)), std::chrono::milliseconds(1500));
}

TEST(Serialize, UserTypesAndNestingRoundTrip) {
  Nested n;
  n.groups["left"] = {Point{1, 2, "a"}, Point{3, 4, "b"}};
  n.groups["right"] = {};
  n.tag = std::string("tagged");
  EXPECT_EQ(round_trip(n), n);
}

TEST(Serialize, SmallValuesStayInTheMessage) {
  mp::Payload p = mp::serialize(std::vector<int>(100, 7));
  EXPECT_FALSE(p.blob);
  EXPECT_EQ(p.blob_size, 0U);
}

TEST(Serialize, LargeBlocksTravelThroughSharedMemory) {
  std::vector<double> big(1 << 17);  // 1 MiB
  std::iota(big.begin(), big.end(), 0.0);
  std::string text(200'000, 'q');
  const auto value = std::make_tuple(big, text, 17);
  mp::Payload p = mp::serialize(value);
  ASSERT_TRUE(p.blob);
  EXPECT_EQ(p.blob_size, big.size() * sizeof(double) + text.size());
  EXPECT_LT(p.bytes.size(), 256U);  // only lengths and the small int are inline
  EXPECT_EQ(mp::deserialize<std::remove_const_t<decltype(value)>>(p), value);
}

TEST(Serialize, DecodingAsAnotherTypeIsASerializationError) {
  mp::Payload p = mp::serialize(std::string("text"));
  EXPECT_THROW(mp::deserialize<int>(p), mp::SerializationError);
  EXPECT_THROW(mp::deserialize<std::vector<char>>(p), mp::SerializationError);
}

TEST(Serialize, TruncatedMessagesAreASerializationError) {
  mp::Payload p = mp::serialize(std::make_tuple(std::string("abc"), std::vector<int>{1, 2, 3}, 4.5));
  for (std::size_t n = 0; n < p.bytes.size(); ++n) {
    using Target = std::tuple<std::string, std::vector<int>, double>;
    EXPECT_THROW(mp::deserialize<Target>(std::string_view(p.bytes).substr(0, n)), mp::SerializationError)
        << "prefix of " << n << " bytes";
  }
}

TEST(Serialize, TrailingBytesAreASerializationError) {
  mp::Payload p = mp::serialize(5);
  p.bytes += "x";
  EXPECT_THROW(mp::deserialize<int>(p), mp::SerializationError);
}

TEST(Serialize, CorruptLengthsDoNotAllocateAndAreASerializationError) {
  mp::Payload p = mp::serialize(std::vector<std::uint64_t>{1, 2});
  const std::uint64_t huge = std::uint64_t{1} << 60;
  std::memcpy(p.bytes.data() + mp::detail::payload_header_size, &huge, sizeof huge);
  EXPECT_THROW(mp::deserialize<std::vector<std::uint64_t>>(p), mp::SerializationError);
}

TEST(Serialize, CorruptBoolsAndVariantIndexesAreASerializationError) {
  mp::Payload b = mp::serialize(true);
  b.bytes.back() = 7;
  EXPECT_THROW(mp::deserialize<bool>(b), mp::SerializationError);
  mp::Payload v = mp::serialize(std::variant<int, double>(1));
  const std::int32_t bad = 5;
  std::memcpy(v.bytes.data() + mp::detail::payload_header_size, &bad, sizeof bad);
  EXPECT_THROW((mp::deserialize<std::variant<int, double>>(v)), mp::SerializationError);
}

TEST(Serialize, AMissingSharedMemoryBlockIsASerializationError) {
  mp::Payload p = mp::serialize(std::vector<char>(mp::shared_memory_threshold, 'a'));
  ASSERT_TRUE(p.blob);
  EXPECT_THROW(mp::deserialize<std::vector<char>>(p.bytes), mp::SerializationError);
}

// Random and mutated bytes fed to the decoder must throw or decode, never crash or read out
// of bounds (run under AddressSanitizer + UBSan in CI).
TEST(Serialize, FuzzedBytesNeverCrashTheDecoder) {
  using Target = std::tuple<std::map<std::string, std::vector<int>>, std::optional<std::variant<int, std::string>>,
                            std::vector<bool>, std::set<std::pair<int, std::string>>, Color, Nested>;
  Nested n;
  n.groups["g"] = {Point{1, 2, "p"}};
  n.tag = 3;
  const Target sample{{{"k", {1, 2, 3}}}, std::string("s"), {true, false}, {{1, "a"}}, Color::red, n};
  const mp::Payload good = mp::serialize(sample);
  std::mt19937_64 rng(12345);
  int decoded = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string bytes = good.bytes;
    switch (round % 3) {
      case 0:  // flip a few bytes after the header
        for (int k = 0; k < 3; ++k) {
          const std::size_t at = mp::detail::payload_header_size + rng() % (bytes.size() - mp::detail::payload_header_size);
          bytes[at] = static_cast<char>(rng());
        }
        break;
      case 1:  // truncate
        bytes.resize(rng() % bytes.size());
        break;
      default:  // random body behind a valid header
        bytes.resize(mp::detail::payload_header_size + rng() % 200);
        for (std::size_t i = mp::detail::payload_header_size; i < bytes.size(); ++i) bytes[i] = static_cast<char>(rng());
    }
    try {
      (void)mp::deserialize<Target>(bytes);
      ++decoded;
    } catch (const mp::SerializationError&) {
    }
  }
  EXPECT_LT(decoded, 3000);
}
