"""Small file operations through Hadoop's FileSystem, so the same code writes local, HDFS or S3 outputs.

Used for the atomic publish (write to a staging folder, then rename into place) and for the small
driver-side files (CSV counts, manifest, report).
"""

from __future__ import annotations

from pyspark.sql import SparkSession


class OutputFS:
    def __init__(self, spark: SparkSession, any_path: str, umask: str | None = "077") -> None:
        sc = spark.sparkContext
        self._jvm = sc._jvm
        conf = sc._jsc.hadoopConfiguration()
        if umask is not None:  # outputs are readable by the owner only unless configured otherwise
            conf.set("fs.permissions.umask-mode", umask)
        fs = self._path(any_path).getFileSystem(conf)
        # the local FS wraps a raw one that writes .crc sidecar files; results do not need them
        self._fs = fs.getRawFileSystem() if fs.getClass().getSimpleName() == "LocalFileSystem" else fs

    def _path(self, path: str):
        return self._jvm.org.apache.hadoop.fs.Path(path)

    def qualify(self, path: str) -> str:
        return self._fs.makeQualified(self._path(path)).toString()

    def exists(self, path: str) -> bool:
        return bool(self._fs.exists(self._path(path)))

    def is_dir(self, path: str) -> bool:
        return bool(self._fs.getFileStatus(self._path(path)).isDirectory())

    def mkdirs(self, path: str) -> None:
        if not self._fs.mkdirs(self._path(path)):
            raise OSError(f"could not create the folder {path}")

    def rename(self, src: str, dst: str) -> None:
        if not self._fs.rename(self._path(src), self._path(dst)):
            raise OSError(f"could not rename {src} to {dst}")

    def delete(self, path: str) -> None:
        self._fs.delete(self._path(path), True)

    def list(self, path: str) -> list[str]:
        if not self.exists(path):
            return []
        return sorted(s.getPath().getName() for s in self._fs.listStatus(self._path(path)))

    def write_text(self, path: str, text: str) -> None:
        out = self._fs.create(self._path(path), True)
        try:
            out.write(bytearray(text.encode("utf-8")))
        finally:
            out.close()

    def read_text(self, path: str) -> str:
        stream = self._fs.open(self._path(path))
        try:
            reader = self._jvm.java.io.BufferedReader(self._jvm.java.io.InputStreamReader(stream, "UTF-8"))
            lines = []
            line = reader.readLine()
            while line is not None:
                lines.append(line)
                line = reader.readLine()
            return "\n".join(lines) + ("\n" if lines else "")
        finally:
            stream.close()

    def parent_and_name(self, path: str) -> tuple[str, str]:
        p = self._path(path)
        return p.getParent().toString(), p.getName()
