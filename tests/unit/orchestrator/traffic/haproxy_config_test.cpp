// The managed configuration's names and the `show stat` parser, without a HAProxy
// (tests/integration/traffic runs a real one).
#include <catch2/catch.hpp>

#include "orchestrator/traffic/haproxy.hpp"

using pw::traffic::RegionFrontend;

TEST_CASE("managed config: a frontend per region, its backend named by the fleet policy") {
  std::vector<RegionFrontend> regions = {{"bw", "127.0.0.1:8001"},
                                         {"eu", "127.0.0.1:8002", "app_eu"}};
  CHECK(pw::traffic::backend_name(regions[0]) == "region_bw");
  CHECK(pw::traffic::backend_name(regions[1]) == "app_eu");
  std::string config = pw::traffic::managed_config("/run/pw/haproxy.sock", regions);
  CHECK_THAT(config, Catch::Contains("stats socket /run/pw/haproxy.sock mode 600 level admin\n"));
  CHECK_THAT(config, Catch::Contains("frontend fe_bw\n  bind 127.0.0.1:8001\n"
                                     "  default_backend region_bw\nbackend region_bw\n"));
  CHECK_THAT(config, Catch::Contains("frontend fe_eu\n  bind 127.0.0.1:8002\n"
                                     "  default_backend app_eu\nbackend app_eu\n"));
  CHECK_THAT(config, !Catch::Contains("region_eu"));
  // A server that dies costs at most the request in flight: retried, then redispatched.
  CHECK_THAT(config, Catch::Contains("\n  retries 2\n"));
  CHECK_THAT(config, Catch::Contains("\n  option redispatch\n"));
  // A failed answer to a GET or HEAD is retried on another server (the canary analysis
  // counts it through wretr); other methods only when no connection was made.
  CHECK_THAT(config, Catch::Contains("\n  retry-on conn-failure empty-response response-timeout "
                                     "500 502 503 504\n"));
  CHECK_THAT(config, Catch::Contains("backend app_eu\n  balance roundrobin\n"
                                     "  http-request disable-l7-retry if !METH_GET\n"));
}

namespace {
// Shaped like HAProxy 2.6's answer (columns cut down, one added that we do not know).
const char* kStat =
    "# pxname,svname,qcur,stot,econ,eresp,weight,status,hrsp_2xx,hrsp_4xx,hrsp_5xx,"
    "cli_abrt,srv_abrt,rtime,type,addr,future_column,wretr,\n"
    "fe_bw,FRONTEND,,90,,,,OPEN,80,4,6,,,,0,,x,,\n"
    "app_bw,old,0,60,1,2,100,UP,50,3,4,1,2,12,2,127.0.0.1:9001,x,5,\n"
    "app_bw,new,0,30,0,0,0,MAINT,30,,,,,7,2,[::1]:9002,x,,\n"
    "app_bw,BACKEND,0,90,1,2,100,UP,80,3,4,1,2,10,1,,x,5,\n"
    "app_eu,BACKEND,0,0,0,0,0,UP,0,0,0,0,0,0,1,,x,0,\n"
    "\n";
}  // namespace

TEST_CASE("show stat: server rows by column name, and the backends that exist") {
  auto table = pw::traffic::parse_stat(kStat);
  REQUIRE(table.ok());
  CHECK(table->backends == std::set<std::string>{"app_bw", "app_eu"});
  REQUIRE(table->servers.size() == 2);
  const auto& old = table->servers[0];
  CHECK(old.backend == "app_bw");
  CHECK(old.server == "old");
  CHECK(old.status == "UP");
  CHECK(old.address == "127.0.0.1:9001");
  CHECK(old.weight == 100);
  CHECK(old.sessions_total == 60);
  CHECK(old.connection_errors == 1);
  CHECK(old.response_errors == 2);
  CHECK(old.responses_2xx == 50);
  CHECK(old.responses_4xx == 3);
  CHECK(old.responses_5xx == 4);
  CHECK(old.client_aborts == 1);
  CHECK(old.server_aborts == 2);
  CHECK(old.response_time_ms == 12);
  CHECK(old.retries == 5);
  const auto& fresh = table->servers[1];
  CHECK(fresh.address == "[::1]:9002");
  CHECK(fresh.status == "MAINT");
  CHECK(fresh.responses_5xx == 0);  // empty field
  CHECK(fresh.response_time_ms == 7);

  auto bad = pw::traffic::parse_stat("# pxname,svname,stot,\napp_bw,old,12x,\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == pw::Errc::parse);
  CHECK_THAT(bad.error().message, Catch::Contains("column stot of app_bw/old"));
  CHECK(pw::traffic::parse_stat("Unknown command\n").error().code == pw::Errc::parse);

  // Names HAProxy would never load (here a byte that is not UTF-8) are refused with the line
  // and the name escaped, so neither reaches the audit log's JSON.
  auto odd = pw::traffic::parse_stat("# pxname,svname,stot,\napp_bw,old,1,\napp_bw,n\xffw,2,\n");
  REQUIRE_FALSE(odd.ok());
  CHECK_THAT(odd.error().message, Catch::Contains("line 3: name 'n\\xffw'"));
  CHECK_THAT(odd.error().message, Catch::Contains("HAProxy does not allow"));
  auto value = pw::traffic::parse_stat("# pxname,svname,stot,\napp_bw,old,\x01\xfe,\n");
  REQUIRE_FALSE(value.ok());
  CHECK_THAT(value.error().message, Catch::Contains("'\\x01\\xfe' is not a number"));
}
