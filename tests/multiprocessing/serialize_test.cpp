// SPDX-License-Identifier: MIT
// serialize.hpp: every standard value type round-trips; user types opt in with one member;
// large blocks travel through shared memory; bad input is a SerializationError, never UB.
#include <concur/multiprocessing/serialize.hpp>

#include <concur/multiprocessing/pool.hpp>

#include <gtest/gtest.h>

#include "memory_test_support.hpp"
#include "mp_test_environment.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bitset>
#include <chrono>
#include <complex>
#include <cstdint>
#include <cstring>
#include <deque>
#include <list>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "../../src/multiprocessing/blob_segments.hpp"  // SegmentMappings: private to the library

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

// ---- declared sizes are bounded by the bytes really there ---------------------------------

namespace {

constexpr std::uint64_t allowed_growth = std::uint64_t{64} << 20;  // far below any forged size

// A message of type T whose body is `body` (after the payload header), declaring a blob of
// `blob_size` bytes.
template <class T>
std::string forged_message(std::string_view body, std::uint64_t blob_size = 0) {
  std::string bytes(mp::detail::payload_header_size, '\0');
  const std::uint64_t header[2] = {mp::detail::type_fingerprint<T>(), blob_size};
  std::memcpy(bytes.data(), header, sizeof header);
  bytes.append(body);
  return bytes;
}

std::string u64(std::uint64_t v) { return {reinterpret_cast<const char*>(&v), sizeof v}; }

// A memfd of `size` bytes that holds no memory (a sparse file): the bytes "present" in a blob.
mp::detail::UniqueFd sparse_memfd(std::uint64_t size) {
  mp::detail::UniqueFd fd(::memfd_create("sparse", MFD_CLOEXEC));
  EXPECT_TRUE(fd);
  EXPECT_EQ(::ftruncate(fd.get(), static_cast<off_t>(size)), 0);
  return fd;
}

}  // namespace

TEST(Serialize, AForgedBlobSizeIsASerializationErrorWithoutABigAllocation) {
  constexpr std::uint64_t forged = std::uint64_t{2} << 30;  // 2 GiB claimed
  const std::string bytes = forged_message<std::string>(u64(forged), forged);
  const auto small = sparse_memfd(1 << 20);  // 1 MiB really there
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  const mp::detail::UniqueFd pr(fds[0]);
  const mp::detail::UniqueFd pw(fds[1]);
  const mp::detail::UniqueFd null_device(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const std::uint64_t growth = concur_test::peak_rss_growth([&] {
    EXPECT_THROW(mp::deserialize<std::string>(bytes, small.get(), forged), mp::SerializationError);
    // Descriptors that are not files: a pipe (a read would block), a device.
    EXPECT_THROW(mp::deserialize<std::string>(bytes, pr.get(), forged), mp::SerializationError);
    EXPECT_THROW(mp::deserialize<std::string>(bytes, null_device.get(), forged), mp::SerializationError);
    EXPECT_THROW(mp::deserialize<std::string>(bytes, 12345, forged), mp::SerializationError);  // not open
  });
  EXPECT_LT(growth, allowed_growth);
}

// A count that the bytes left could hold one byte per element, but not one element per
// element's real size: the container is never sized from it.
TEST(Serialize, ForgedElementCountsNeverSizeAContainerBeyondTheBytesPresent) {
  constexpr std::uint64_t blob = std::uint64_t{256} << 20;  // a sparse 256 MiB blob
  const auto fd = sparse_memfd(blob);
  const std::uint64_t count = blob;  // 8 bytes per uint64: 2 GiB if trusted; 32 per string: 8 GiB
  const std::uint64_t growth = concur_test::peak_rss_growth([&] {
    EXPECT_THROW(mp::deserialize<std::vector<std::uint64_t>>(forged_message<std::vector<std::uint64_t>>(u64(count), blob), fd.get(), blob),
                 mp::SerializationError);
    EXPECT_THROW(mp::deserialize<std::vector<std::string>>(forged_message<std::vector<std::string>>(u64(count), blob), fd.get(), blob),
                 mp::SerializationError);
    EXPECT_THROW(mp::deserialize<std::deque<std::string>>(forged_message<std::deque<std::string>>(u64(count), blob), fd.get(), blob),
                 mp::SerializationError);
    EXPECT_THROW(mp::deserialize<std::list<double>>(forged_message<std::list<double>>(u64(count), blob), fd.get(), blob),
                 mp::SerializationError);
    EXPECT_THROW((mp::deserialize<std::unordered_set<int>>(forged_message<std::unordered_set<int>>(u64(count), blob), fd.get(), blob)),
                 mp::SerializationError);
    using Wide = std::vector<std::optional<std::array<char, 4096>>>;  // 1 byte encodes 4 KiB
    EXPECT_THROW(mp::deserialize<Wide>(forged_message<Wide>(u64(count) + std::string(64, '\0'), blob), fd.get(), blob),
                 mp::SerializationError);
    // An inline string longer than the message.
    EXPECT_THROW(mp::deserialize<std::string>(forged_message<std::string>(u64(60'000) + "abc")), mp::SerializationError);
  });
  EXPECT_LT(growth, allowed_growth);
  // The same containers still decode what they should.
  const std::tuple<std::vector<std::string>, std::deque<int>, std::list<double>, std::unordered_set<int>, std::u16string> v{
      {"a", "bc"}, {1, 2}, {0.5}, {7, 8}, u"wide"};
  EXPECT_EQ(round_trip(v), v);
}

TEST(Serialize, AStandardTypeRefusingCorruptDataIsASerializationError) {
  // std::bitset from cereal's "string" form: characters other than 0 and 1 make the
  // constructor throw std::invalid_argument.
  const std::string bytes = forged_message<std::bitset<8>>(std::string(1, '\2') + u64(2) + "x1");
  EXPECT_THROW(mp::deserialize<std::bitset<8>>(bytes), mp::SerializationError);
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

// ---- recycled shared-memory segments (a Pool's tasks) --------------------------------------

namespace {

std::uint64_t inode_of(const mp::detail::UniqueFd& fd) {
  struct stat st {};
  EXPECT_EQ(::fstat(fd.get(), &st), 0);
  return static_cast<std::uint64_t>(st.st_ino);
}

mp::Payload serialize_recycled(const std::vector<std::uint32_t>& value) {
  const mp::detail::RecycledBlobScope scope;
  return mp::serialize(value);
}

std::vector<std::uint32_t> counting(std::size_t n, std::uint32_t first) {
  std::vector<std::uint32_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

}  // namespace

TEST(Serialize, ASegmentIsReusedOnlyOnceThePayloadThatHeldItIsGone) {
  const auto retained = mp::detail::retain_blob_segments();
  const auto a = counting(1 << 18, 0);  // 1 MiB
  const auto b = counting(1 << 18, 7);
  std::uint64_t first_inode = 0;
  {
    mp::Payload p = serialize_recycled(a);
    ASSERT_TRUE(p.blob);
    ASSERT_TRUE(p.blob_lease);
    first_inode = inode_of(p.blob);
    mp::Payload q = serialize_recycled(b);  // `p` still holds its segment: another one
    EXPECT_NE(inode_of(q.blob), first_inode);
    EXPECT_EQ(mp::deserialize<std::vector<std::uint32_t>>(p), a);
    EXPECT_EQ(mp::deserialize<std::vector<std::uint32_t>>(q), b);
  }
  // Both are free again: the next payload gets one of them, and its own content.
  mp::Payload r = serialize_recycled(b);
  mp::Payload s = serialize_recycled(a);
  EXPECT_TRUE(inode_of(r.blob) == first_inode || inode_of(s.blob) == first_inode);
  EXPECT_EQ(mp::deserialize<std::vector<std::uint32_t>>(r), b);
  EXPECT_EQ(mp::deserialize<std::vector<std::uint32_t>>(s), a);
}

TEST(Serialize, WithoutARetainedSetOrOutsideAScopeABlobGetsAMemfdOfItsOwn) {
  const auto value = counting(1 << 16, 3);
  mp::Payload unretained = serialize_recycled(value);  // no pool retains the segments
  ASSERT_TRUE(unretained.blob);
  EXPECT_FALSE(unretained.blob_lease);
  EXPECT_EQ(mp::deserialize<std::vector<std::uint32_t>>(unretained), value);

  const auto retained = mp::detail::retain_blob_segments();
  mp::Payload unscoped = mp::serialize(value);
  ASSERT_TRUE(unscoped.blob);
  EXPECT_FALSE(unscoped.blob_lease);
  EXPECT_FALSE(mp::detail::RecycledBlobScope::active());
}

TEST(Serialize, AReusedSegmentLargerThanTheBlobYieldsExactlyTheBlob) {
  const auto retained = mp::detail::retain_blob_segments();
  { mp::Payload big = serialize_recycled(counting(1 << 20, 1)); }  // 4 MiB: grows the segment
  const auto small = counting(1 << 15, 9);                           // 128 KiB into it
  mp::Payload p = serialize_recycled(small);
  struct stat st {};
  ASSERT_EQ(::fstat(p.blob.get(), &st), 0);
  EXPECT_GT(static_cast<std::uint64_t>(st.st_size), p.blob_size);  // stale bytes lie beyond the blob
  EXPECT_EQ(mp::deserialize<std::vector<std::uint32_t>>(p), small);
  // A size that claims more than the blob, or less, is refused (the header must agree).
  EXPECT_THROW(mp::deserialize<std::vector<std::uint32_t>>(p.bytes, p.blob.get(), p.blob_size + 4), mp::SerializationError);
  EXPECT_THROW(mp::deserialize<std::vector<std::uint32_t>>(p.bytes, p.blob.get(), p.blob_size - 4), mp::SerializationError);
}

// The blob's lengths live in the message: corrupt ones must never read outside the blob,
// whether it is read from the descriptor or from the receiver's mapping (blob_view).
TEST(Serialize, FuzzedBlockLengthsNeverReadOutsideTheBlob) {
  const auto retained = mp::detail::retain_blob_segments();
  using Target = std::tuple<std::vector<std::uint32_t>, std::string, std::vector<double>>;
  const Target sample{counting(1 << 15, 0), std::string(mp::shared_memory_threshold, 'z'), std::vector<double>(1 << 13, 0.5)};
  mp::Payload good;
  {
    const mp::detail::RecycledBlobScope scope;
    good = mp::serialize(sample);
  }
  ASSERT_TRUE(good.blob_lease);
  // A copy of the blob, exactly blob_size bytes, in memory of its own: AddressSanitizer
  // reports any read beyond it.
  std::vector<unsigned char> mirror(good.blob_size);
  ASSERT_EQ(::pread(good.blob.get(), mirror.data(), mirror.size(), 0), static_cast<ssize_t>(mirror.size()));
  good.blob_view = mirror.data();
  EXPECT_EQ(mp::deserialize<Target>(good), sample);

  // The three lengths sit at known places: after the header, behind each block's inline
  // length. Replace them with random, boundary and huge values.
  std::mt19937_64 rng(777);
  const std::size_t length_at[] = {mp::detail::payload_header_size, mp::detail::payload_header_size + 8,
                                   mp::detail::payload_header_size + 16};
  int decoded = 0;
  for (int round = 0; round < 600; ++round) {
    std::string bytes = good.bytes;
    const std::size_t at = length_at[rng() % 3];
    std::uint64_t n = 0;
    std::memcpy(&n, bytes.data() + at, sizeof n);
    switch (round % 4) {
      case 0: n += 1 + rng() % 1024; break;
      case 1: n = n > 0 ? n - 1 - rng() % std::min<std::uint64_t>(n, 1024) : 1; break;
      case 2: n = good.blob_size + rng() % 16; break;
      default: n = rng();
    }
    std::memcpy(bytes.data() + at, &n, sizeof n);
    for (const bool mapped : {false, true}) {
      try {
        (void)mp::deserialize<Target>(bytes, mapped ? -1 : good.blob.get(), good.blob_size, {}, mapped ? mirror.data() : nullptr);
        ++decoded;
      } catch (const mp::SerializationError&) {
      }
    }
  }
  EXPECT_EQ(decoded, 0);  // every changed length leaves bytes over or runs short: refused
}

// What a pool worker does with the descriptor of a task's blob (private to the library: the
// test reaches into src/ for it).
TEST(Serialize, AWorkersMappingOfASegmentIsCheckedAgainstTheFileAndKept) {
  const auto retained = mp::detail::retain_blob_segments();
  const auto value = counting(1 << 17, 5);
  mp::Payload p = serialize_recycled(value);
  ASSERT_TRUE(p.blob_lease);
  mp::detail::SegmentMappings mappings;
  const unsigned char* view = mappings.view(p.blob.get(), p.blob_size);
  ASSERT_NE(view, nullptr);
  ASSERT_EQ(std::memcmp(view, value.data(), 16), 0);
  p.blob_view = view;
  EXPECT_EQ(mp::deserialize<std::vector<std::uint32_t>>(p), value);
  // The same file through another descriptor (as the next task brings it): the same mapping,
  // or none where the kernel does not let us compare open files (the fd is read then).
  const int again = ::dup(p.blob.get());
  ASSERT_GE(again, 0);
  const mp::detail::UniqueFd other(again);
  const unsigned char* second = mappings.view(other.get(), p.blob_size);
  EXPECT_TRUE(second == view || second == nullptr);
  // A blob said to be longer than the file holds is refused before anything is read.
  struct stat st {};
  ASSERT_EQ(::fstat(p.blob.get(), &st), 0);
  EXPECT_THROW((void)mappings.view(p.blob.get(), static_cast<std::uint64_t>(st.st_size) + 1), mp::SerializationError);
  // Another file with other content is never mistaken for the first.
  mp::Payload q = serialize_recycled(counting(1 << 17, 99));
  const unsigned char* third = mappings.view(q.blob.get(), q.blob_size);
  if (third != nullptr) {
    EXPECT_NE(third, view);
    q.blob_view = third;
  }
  EXPECT_EQ(mp::deserialize<std::vector<std::uint32_t>>(q), counting(1 << 17, 99));
  // The first segment comes back grown for a larger blob: it is mapped again, whole.
  p = mp::Payload{};
  mp::Payload grown = serialize_recycled(counting(1 << 20, 3));  // 4 MiB
  const unsigned char* fourth = mappings.view(grown.blob.get(), grown.blob_size);
  if (fourth != nullptr) grown.blob_view = fourth;
  EXPECT_EQ(mp::deserialize<std::vector<std::uint32_t>>(grown), counting(1 << 20, 3));
}

// ---- a Pool's tasks in recycled segments ----------------------------------------------------

namespace {

// Sums the bytes; a block whose bytes are all 13 kills its worker while it holds the task.
std::uint64_t sum_or_die(std::vector<unsigned char> data) {
  if (data.front() == 13) ::kill(::getpid(), SIGKILL);
  std::uint64_t sum = 0;
  for (unsigned char b : data) sum += b;
  return sum;
}

class RecycledPoolBlocks : public testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(RecycledPoolBlocks, AWorkerKilledHoldingABlockFailsOnlyItsTaskAndLaterTasksReadTheirOwnBytes) {
  mp::Pool pool({.processes = 2, .start_method = GetParam()});
  constexpr std::size_t size = 256 * 1024;
  for (int round = 0; round < 3; ++round) {
    std::vector<mp::AsyncResult<std::uint64_t>> results;
    for (int i = 0; i < 6; ++i) {
      const auto fill = static_cast<unsigned char>(round == 0 && i == 2 ? 13 : 20 * round + i + 1);
      results.push_back(pool.apply_async(sum_or_die, std::vector<unsigned char>(size, fill)));
    }
    for (int i = 0; i < 6; ++i) {
      if (round == 0 && i == 2) {
        EXPECT_THROW(results[static_cast<std::size_t>(i)].get(), concur::ProcessError);
      } else {
        EXPECT_EQ(results[static_cast<std::size_t>(i)].get(), size * static_cast<std::uint64_t>(20 * round + i + 1));
      }
    }
  }
  pool.close();
  pool.join();
}

INSTANTIATE_TEST_SUITE_P(StartMethods, RecycledPoolBlocks, testing::Values("fork", "forkserver"),
                         [](const testing::TestParamInfo<std::string>& info) { return info.param; });
