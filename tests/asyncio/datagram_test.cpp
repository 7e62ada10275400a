// SPDX-License-Identifier: MIT
// Tests of concur/asyncio/datagram.hpp: UDP round trips on 127.0.0.1, connected endpoints,
// several receivers, the bounded queue, errors, cancellation.
#include "concur/asyncio/datagram.hpp"

#include <gtest/gtest.h>

#include <string>

#include "asyncio_test_support.hpp"
#include "concur/asyncio.hpp"

namespace asyncio = concur::asyncio;
using namespace std::chrono_literals;
using asyncio::Task;

namespace {

class Datagram : public asyncio::testing_support::AsyncioTest {};

TEST_F(Datagram, EchoesADatagramBackToItsSender) {
  asyncio::run([]() -> Task<void> {
    const asyncio::DatagramOptions server_options{.local_addr = std::pair<std::string, std::uint16_t>{"127.0.0.1", 0}};
    asyncio::DatagramEndpoint server = co_await asyncio::create_datagram_endpoint(server_options);
    const asyncio::Address at = server.sockname();
    EXPECT_EQ(at.host, "127.0.0.1");
    EXPECT_GT(at.port, 0);
    const asyncio::DatagramOptions client_options{.remote_addr = std::pair<std::string, std::uint16_t>{"127.0.0.1", at.port}};
    asyncio::DatagramEndpoint client = co_await asyncio::create_datagram_endpoint(client_options);
    EXPECT_EQ(client.peername(), at);
    client.sendto("ping");
    auto [data, from] = co_await server.recvfrom();
    EXPECT_EQ(data, "ping");
    EXPECT_EQ(from, client.sockname());
    server.sendto("pong", from);
    auto [reply, reply_from] = co_await client.recvfrom();
    EXPECT_EQ(reply, "pong");
    EXPECT_EQ(reply_from, at);
    client.close();
    server.close();
  }());
}

TEST_F(Datagram, ManyDatagramsArriveWholeAndInOrderOnLoopback) {
  asyncio::run([]() -> Task<void> {
    const asyncio::DatagramOptions options{.local_addr = std::pair<std::string, std::uint16_t>{"127.0.0.1", 0}};
    asyncio::DatagramEndpoint a = co_await asyncio::create_datagram_endpoint(options);
    asyncio::DatagramEndpoint b = co_await asyncio::create_datagram_endpoint(options);
    for (int i = 0; i < 200; ++i) b.sendto("datagram " + std::to_string(i), a.sockname());
    for (int i = 0; i < 200; ++i) {
      auto [data, from] = co_await a.recvfrom();
      EXPECT_EQ(data, "datagram " + std::to_string(i));
    }
    a.close();
    b.close();
  }());
}

TEST_F(Datagram, WaitingReceiversAreServedInOrder) {
  asyncio::run([]() -> Task<void> {
    const asyncio::DatagramOptions options{.local_addr = std::pair<std::string, std::uint16_t>{"127.0.0.1", 0}};
    asyncio::DatagramEndpoint a = co_await asyncio::create_datagram_endpoint(options);
    asyncio::DatagramEndpoint b = co_await asyncio::create_datagram_endpoint(options);
    auto receive = [](asyncio::DatagramEndpoint e) -> Task<std::string> { co_return (co_await e.recvfrom()).first; };
    auto first = asyncio::create_task(receive(a));
    auto second = asyncio::create_task(receive(a));
    co_await asyncio::sleep(0s);
    b.sendto("one", a.sockname());
    b.sendto("two", a.sockname());
    EXPECT_EQ(co_await first, "one");
    EXPECT_EQ(co_await second, "two");
    a.close();
    b.close();
  }());
}

TEST_F(Datagram, CancellingAReceiveLosesNoDatagram) {
  asyncio::run([]() -> Task<void> {
    const asyncio::DatagramOptions options{.local_addr = std::pair<std::string, std::uint16_t>{"127.0.0.1", 0}};
    asyncio::DatagramEndpoint a = co_await asyncio::create_datagram_endpoint(options);
    asyncio::DatagramEndpoint b = co_await asyncio::create_datagram_endpoint(options);
    auto receive = [](asyncio::DatagramEndpoint e) -> Task<std::string> { co_return (co_await e.recvfrom()).first; };
    auto waiting = asyncio::create_task(receive(a));
    co_await asyncio::sleep(0s);  // it now waits for a datagram
    waiting.cancel();
    EXPECT_THROW(co_await waiting, concur::CancelledError);
    b.sendto("kept", a.sockname());
    auto [data, from] = co_await a.recvfrom();
    EXPECT_EQ(data, "kept");
    a.close();
    b.close();
  }());
}

TEST_F(Datagram, AConnectedEndpointReportsARefusedPortOnItsNextReceive) {
  asyncio::run([]() -> Task<void> {
    const asyncio::DatagramOptions probe{.local_addr = std::pair<std::string, std::uint16_t>{"127.0.0.1", 0}};
    asyncio::DatagramEndpoint gone = co_await asyncio::create_datagram_endpoint(probe);
    const std::uint16_t port = gone.sockname().port;
    gone.close();
    const asyncio::DatagramOptions options{.remote_addr = std::pair<std::string, std::uint16_t>{"127.0.0.1", port}};
    asyncio::DatagramEndpoint client = co_await asyncio::create_datagram_endpoint(options);
    client.sendto("anyone?");
    EXPECT_THROW(co_await client.recvfrom(), concur::ConnectionRefusedError);
    client.close();
  }());
}

TEST_F(Datagram, MisuseRaisesValueErrorAndClosedEndpointsRaiseOSError) {
  asyncio::run([]() -> Task<void> {
    EXPECT_THROW(co_await asyncio::create_datagram_endpoint({}), concur::ValueError);
    const asyncio::DatagramOptions options{.local_addr = std::pair<std::string, std::uint16_t>{"127.0.0.1", 0}};
    asyncio::DatagramEndpoint a = co_await asyncio::create_datagram_endpoint(options);
    EXPECT_THROW(a.sendto("no address"), concur::ValueError);
    EXPECT_THROW(a.sendto("bad", asyncio::Address{asyncio::Address::Family::ipv4, "not-an-ip", 9}), concur::ValueError);
    const asyncio::Address self = a.sockname();
    auto pending = asyncio::create_task([](asyncio::DatagramEndpoint e) -> Task<void> { co_await e.recvfrom(); }(a));
    co_await asyncio::sleep(0s);
    a.close();
    EXPECT_TRUE(a.is_closing());
    EXPECT_THROW(co_await pending, concur::OSError);
    EXPECT_THROW(co_await a.recvfrom(), concur::OSError);
    a.sendto("dropped", self);  // after close: dropped, no exception
    EXPECT_THROW((void)a.sockname(), concur::OSError);
  }());
}

TEST_F(Datagram, AnEndpointThatOutlivesItsLoopIsClosedByIt) {
  asyncio::DatagramEndpoint endpoint;
  asyncio::Address self;
  asyncio::run([&]() -> Task<void> {
    const asyncio::DatagramOptions options{.local_addr = std::pair<std::string, std::uint16_t>{"127.0.0.1", 0}};
    endpoint = co_await asyncio::create_datagram_endpoint(options);
    self = endpoint.sockname();
  }(), capturing());
  EXPECT_TRUE(reports.empty()) << reports.front();  // no live libuv handle
  EXPECT_TRUE(endpoint.is_closing());
  EXPECT_THROW(endpoint.sendto("late", self), concur::RuntimeError);
  EXPECT_THROW((void)endpoint.sockname(), concur::OSError);
  endpoint.close();
}

}  // namespace
