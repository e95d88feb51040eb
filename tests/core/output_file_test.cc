// core/output_file.h: the folders a batch creates for its outputs stay only when the batch is committed, and checking
// an output folder leaves nothing behind.
#include "core/output_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

namespace ringlab {
namespace {

std::string Fresh(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "ringlab_output_file_" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// The trace names check and run write (and check before running): the suffix goes before the extension.
TEST(OutputNames, MethodTracePaths) {
  EXPECT_EQ(MethodTracePaths("t.json", false, false), std::vector<std::string>{"t.json"});
  EXPECT_EQ(MethodTracePaths("t.json", false, true), (std::vector<std::string>{"t.json", "t.backward.json"}));
  EXPECT_EQ(MethodTracePaths("out/t.json", true, true),
            (std::vector<std::string>{"out/t.allgather.json", "out/t.allgather.backward.json", "out/t.alltoall.json",
                                      "out/t.alltoall.backward.json"}));
  EXPECT_EQ(MethodTracePaths("t", true, false), (std::vector<std::string>{"t.allgather", "t.alltoall"}));
}

TEST(OutputBatch, CreatedFoldersStayOnlyWhenCommitted) {
  const std::string dir = Fresh("folders");
  {
    OutputBatch batch;
    ASSERT_TRUE(batch.CreateFolder(dir + "/a/b/").ok());
    std::ostream* f = nullptr;
    ASSERT_TRUE(batch.Open(dir + "/a/b/x.txt", &f).ok());
    *f << "x";
    EXPECT_TRUE(std::filesystem::is_directory(dir + "/a/b"));
  }  // not committed (a later output failed): no file, no folder
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  OutputBatch batch;
  ASSERT_TRUE(batch.CreateFolder(dir + "/a/b").ok());
  ASSERT_TRUE(batch.Add(dir + "/a/b/x.txt", "x").ok());
  ASSERT_TRUE(batch.Commit().ok());
  EXPECT_TRUE(std::filesystem::exists(dir + "/a/b/x.txt"));
  // A folder that existed is never removed; a file on the way is an error.
  std::ofstream(dir + "/plain") << "x";
  {
    OutputBatch failed;
    ASSERT_TRUE(failed.CreateFolder(dir + "/a").ok());
    const Status st = failed.CreateFolder(dir + "/plain/c");
    EXPECT_NE(st.message().find(dir + "/plain is not a folder"), std::string::npos) << st.message();
  }
  EXPECT_TRUE(std::filesystem::exists(dir + "/a/b/x.txt"));
}

TEST(OutputBatch, CheckOutputFolderLeavesNothing) {
  const std::string dir = Fresh("check");
  EXPECT_TRUE(CheckOutputFolder(dir + "/new/et").ok());
  EXPECT_TRUE(CheckOutputFolder(dir).ok());
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  std::ofstream(dir + "/plain") << "x";
  EXPECT_FALSE(CheckOutputFolder(dir + "/plain").ok());
  EXPECT_FALSE(CheckOutputFolder("/proc/ringlab_no_such/et").ok());
}

}  // namespace
}  // namespace ringlab
