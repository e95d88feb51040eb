#include "kernels/cuda/nccl_id_exchange.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>

namespace ringlab::gpu {
namespace {

using Clock = std::chrono::steady_clock;

double Left(Clock::time_point deadline) { return std::chrono::duration<double>(deadline - Clock::now()).count(); }

bool ReadAll(int fd, char* buf, int n, Clock::time_point deadline) {
  int got = 0;
  while (got < n) {
    pollfd p{fd, POLLIN, 0};
    const double left = Left(deadline);
    if (left <= 0 || poll(&p, 1, int(left * 1000) + 1) <= 0) return false;
    const ssize_t r = read(fd, buf + got, n - got);
    if (r <= 0) return false;
    got += int(r);
  }
  return true;
}

bool WriteAll(int fd, const char* buf, int n) {
  int put = 0;
  while (put < n) {
    const ssize_t r = write(fd, buf + put, n - put);
    if (r <= 0) return false;
    put += int(r);
  }
  return true;
}

}  // namespace

Status ExchangeIdFile(bool root, const std::string& path, char* id, double timeout_s) {
  if (root) {
    std::remove(path.c_str());
    std::remove((path + ".abort").c_str());
    const std::string tmp = path + ".tmp";
    {
      std::ofstream f(tmp, std::ios::binary);
      f.write(id, kNcclIdBytes);
      if (!f) return Status::InvalidArgument("--nccl-id-file: cannot write '" + tmp + "'");
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      return Status::InvalidArgument("--nccl-id-file: cannot rename '" + tmp + "' to '" + path + "': " + strerror(errno));
    return Status::Ok();
  }
  const Clock::time_point deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  while (true) {
    std::ifstream f(path, std::ios::binary);
    if (f) {
      f.read(id, kNcclIdBytes);
      if (f.gcount() == kNcclIdBytes) return Status::Ok();
    }
    if (Left(deadline) <= 0)
      return Status::Unavailable("--nccl-id-file: '" + path + "' did not appear within " + std::to_string(int(timeout_s)) +
                                 " s (is rank 0 running, and is the file on a folder every process sees?)");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Status ExchangeIdTcp(bool root, const std::string& addr, int port, int world, char* id, double timeout_s) {
  const Clock::time_point deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  const std::string where = addr + ":" + std::to_string(port);
  if (port <= 0 || port > 65535) return Status::InvalidArgument("NCCL id exchange: bad port " + std::to_string(port));
  if (root) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return Status::Unavailable(std::string("NCCL id exchange: socket: ") + strerror(errno));
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
    sa.sin_port = htons(uint16_t(port));
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(fd, world) != 0) {
      const std::string err = strerror(errno);
      close(fd);
      return Status::Unavailable("NCCL id exchange: cannot listen on port " + std::to_string(port) + ": " + err);
    }
    for (int served = 1; served < world; ++served) {
      pollfd p{fd, POLLIN, 0};
      const double left = Left(deadline);
      if (left <= 0 || poll(&p, 1, int(left * 1000) + 1) <= 0) {
        close(fd);
        return Status::Unavailable("NCCL id exchange: only " + std::to_string(served - 1) + " of " +
                                   std::to_string(world - 1) + " ranks connected to port " + std::to_string(port) +
                                   " within " + std::to_string(int(timeout_s)) + " s");
      }
      const int c = accept(fd, nullptr, nullptr);
      if (c < 0) { --served; continue; }
      const bool ok = WriteAll(c, id, kNcclIdBytes);
      close(c);
      if (!ok) --served;
    }
    close(fd);
    return Status::Ok();
  }
  while (true) {
    addrinfo hints{}, *res = nullptr;
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(addr.c_str(), std::to_string(port).c_str(), &hints, &res) == 0 && res) {
      const int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
      const bool connected = fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0;
      freeaddrinfo(res);
      if (connected) {
        const bool ok = ReadAll(fd, id, kNcclIdBytes, deadline);
        close(fd);
        if (ok) return Status::Ok();
      } else if (fd >= 0) {
        close(fd);
      }
    }
    if (Left(deadline) <= 0)
      return Status::Unavailable("NCCL id exchange: could not read the id from rank 0 at " + where + " within " +
                                 std::to_string(int(timeout_s)) + " s (MASTER_ADDR/MASTER_PORT; rank 0 listens on "
                                 "MASTER_PORT+1)");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace ringlab::gpu
